// Package inmem holds the single-node, in-memory parts of the verify hot
// path: a fixed-window rate limiter, the verify cache with its negative
// cache and load coalescing, and the write-behind buffers of last_used_at,
// usage counts and credit spend. It imports the root package and the
// standard library only.
package inmem
