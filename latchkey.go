// Package latchkey holds the domain of the Latchkey API key service: keys,
// accounts, permissions, audit events and verification, the service
// interfaces the storage and cache packages implement, the Error type and its
// codes, and the secret format with its hashing. It imports the standard
// library only; every other package imports it.
package latchkey

import (
	"context"
	"time"
)

// Version is the build's version, set with -ldflags "-X github.com/latchkey/latchkey.Version=…".
var Version = "dev"

// ActorKind says what kind of principal made a call.
type ActorKind string

// Actor kinds.
const (
	ActorOperator ActorKind = "operator" // X-Admin-Secret holder
	ActorRootKey  ActorKind = "root_key" // a key of kind root
	ActorUser     ActorKind = "user"     // a signed-in person
	ActorSystem   ActorKind = "system"   // the server itself (bootstrap, migrations)
)

// Actor is the principal behind a mutation, recorded in the audit log with
// the client's address and user agent.
type Actor struct {
	Kind      ActorKind
	ID        int64 // key id for root keys, user id for users, 0 otherwise
	IP        string
	UserAgent string
}

type actorKey struct{}

// NewContextWithActor returns a context carrying the actor of the request.
func NewContextWithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the request's actor, or the system actor.
func ActorFromContext(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Kind: ActorSystem}
}

// Clock returns the current time; stores and caches take one so tests can
// move time.
type Clock func() time.Time

// SystemClock is the wall clock in UTC.
func SystemClock() time.Time { return time.Now().UTC() }
