// Package redis holds the counters several latchkey instances share in
// Redis: the rate-limit windows and credit balances of keys, decided
// together by one atomic script, and the sign-in throttle. When Redis
// cannot be reached they fall back to counters of the instance's own (or,
// failing closed, refuse limited keys) and return to Redis when it answers
// again. It imports the root package and go-redis only.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey"
	goredis "github.com/redis/go-redis/v9"
)

// Timeouts of one Redis call: a counter check takes well under a
// millisecond, so a server that has not answered in these has gone away,
// and the instance counts on its own until it is back.
const (
	dialTimeout = time.Second
	ioTimeout   = 500 * time.Millisecond
	// probeEvery is how often a Client that lost Redis tries it again.
	probeEvery = 500 * time.Millisecond
	// warnEvery bounds how often failures reaching Redis are logged.
	warnEvery = 10 * time.Second
)

// Options configure Open.
type Options struct {
	// Prefix names every counter ("latchkey" when empty), so several
	// deployments can share a server.
	Prefix string
	// Logger gets losing and regaining Redis, and go-redis's own messages
	// (nil: nowhere).
	Logger *slog.Logger
}

// Client is a connection to Redis with its state: up, or down and being
// probed until it answers. It is safe for concurrent use.
type Client struct {
	rdb    *goredis.Client
	prefix string
	logger *slog.Logger

	up      atomic.Bool
	probing atomic.Bool
	closed  chan struct{}
	wg      sync.WaitGroup

	mu       sync.Mutex
	lastWarn time.Time // of the last logged failure
	unlogged int       // failures since, not logged
	isClosed bool      // Close was called: no probe starts
}

// Open connects to the Redis server at url (redis:// or rediss://) and
// checks that it answers. Errors never repeat the URL, which may hold a
// password.
func Open(ctx context.Context, url string, o Options) (*Client, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only
		// what went wrong.
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redis url: %v", err)
	}
	opts.DialTimeout = dialTimeout
	opts.ReadTimeout = ioTimeout
	opts.WriteTimeout = ioTimeout
	opts.PoolTimeout = dialTimeout
	opts.ContextTimeoutEnabled = true
	// A failed call falls back at once; the probe finds Redis again. (0
	// would mean go-redis's default of 3 retries, and dials are retried 5
	// times unless told otherwise.)
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	c := &Client{prefix: o.Prefix, logger: o.Logger, closed: make(chan struct{})}
	if c.prefix == "" {
		c.prefix = "latchkey"
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	} else {
		goredis.SetLogger(slogPrinter{c.logger}) // process-wide: the last Open wins
	}
	c.rdb = goredis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, dialTimeout+ioTimeout)
	defer cancel()
	if err := c.rdb.Ping(pctx).Err(); err != nil {
		c.rdb.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", opts.Addr, err)
	}
	c.up.Store(true)
	return c, nil
}

// slogPrinter hands go-redis's log lines to slog, so they keep the
// server's log format, at debug: they repeat every failed dial, and the
// Client logs losing and regaining Redis itself, once each.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(ctx context.Context, format string, v ...any) {
	p.l.Debug("redis client", "detail", fmt.Sprintf(format, v...))
}

// Up reports whether Redis answered the last call made to it.
func (c *Client) Up() bool { return c.up.Load() }

// Close stops probing and closes the connections.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.isClosed {
		c.mu.Unlock()
		return nil
	}
	c.isClosed = true
	close(c.closed)
	c.mu.Unlock()
	c.wg.Wait()
	return c.rdb.Close()
}

// Ping reports whether Redis answers. Errors: unavailable.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout+ioTimeout)
	defer cancel()
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		c.lost(err)
		return latchkey.Errorf(latchkey.EUNAVAILABLE, "the shared counters (Redis) do not answer")
	}
	return nil
}

// failed handles an error of a call to Redis: the caller's own
// cancellation says nothing of Redis; anything else marks it down. It
// returns the error callers see, which names no address.
func (c *Client) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return latchkey.Errorf(latchkey.EUNAVAILABLE, "request cancelled")
	}
	c.lost(err)
	return latchkey.Errorf(latchkey.EUNAVAILABLE, "the shared counters (Redis) do not answer; try again shortly")
}

// lost marks Redis down, logs it (once for the loss, then at most once per
// warnEvery), and starts probing for its return.
func (c *Client) lost(cause error) {
	if c.up.Swap(false) {
		c.logger.Warn("redis unreachable: limits are counted by this instance alone until it is back", "err", cause)
		c.mu.Lock()
		c.lastWarn, c.unlogged = time.Now(), 0
		c.mu.Unlock()
	} else {
		c.mu.Lock()
		if now := time.Now(); now.Sub(c.lastWarn) >= warnEvery {
			c.logger.Warn("redis still unreachable", "err", cause, "failures_not_logged", c.unlogged)
			c.lastWarn, c.unlogged = now, 0
		} else {
			c.unlogged++
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	if !c.isClosed && c.probing.CompareAndSwap(false, true) {
		c.wg.Add(1) // under mu, so Close's Wait never races an Add
		go c.probe()
	}
	c.mu.Unlock()
}

// probe pings Redis every probeEvery until it answers, then marks it up.
func (c *Client) probe() {
	defer c.wg.Done()
	down := time.Now()
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			c.probing.Store(false)
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout+ioTimeout)
		err := c.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			// Probing ends before Redis counts as up, so a loss right
			// after this starts a probe of its own.
			c.probing.Store(false)
			c.up.Store(true)
			c.logger.Info("redis is back: limits are shared again", "down_for", time.Since(down).Round(time.Millisecond).String())
			return
		}
	}
}
