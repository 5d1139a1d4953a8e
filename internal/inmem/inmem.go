// Package inmem holds the single-node, in-memory parts of the verify hot
// path: a fixed-window rate limiter, the verify cache with its negative
// cache and load coalescing, and the write-behind buffers of last_used_at,
// usage counts and credit spend. It imports the root package, the standard
// library and golang.org/x/sync only.
package inmem

// shardOfKey spreads key ids, which are sequential, over n shards (n a
// power of two) with a multiplicative hash. The rate limiter, the cache's
// key shards and write-behind's dirty lists all shard by it.
func shardOfKey(keyID int64, n int) int {
	return int(((uint64(keyID) * 0x9E3779B97F4A7C15) >> 32) & uint64(n-1))
}
