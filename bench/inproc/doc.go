// Package inproc holds in-process benchmarks of the verify route: latchkey's
// full HTTP handler (wired as cmd/latchkey serve wires it, on a SQLite file)
// beside the bench/baseline yardstick handler, with no network and no load
// generator, so their CPU cost and allocations compare directly and a CPU
// profile shows where latchkey's extra time goes:
//
//	go test -run XXX -bench . -benchmem -cpuprofile cpu.out ./bench/inproc/
//	go tool pprof -top inproc.test cpu.out
//
// It has no tests; go test ./bench/... runs nothing here.
package inproc
