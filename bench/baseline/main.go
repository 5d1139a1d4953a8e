// Command baseline is the yardstick for the verify load test: a bare
// net/http server whose one handler (bench/internal/yardstick) decodes the
// verify body with encoding/json, hashes the key with SHA-256, does one map
// lookup and encodes a small JSON answer.
//
//	go run ./bench/baseline -listen 127.0.0.1:0 -keys-file secrets.txt
//
// It prints "baseline listening on http://ADDR (N keys)" and serves until
// SIGINT or SIGTERM. Every path answers as the verify route.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/bench/internal/yardstick"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	keysFile := flag.String("keys-file", "", "file of secrets, one a line, that verify as VALID")
	flag.Parse()
	if err := run(*listen, *keysFile); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(listen, keysFile string) error {
	var secrets []string
	if keysFile != "" {
		var err error
		if secrets, err = yardstick.ReadSecrets(keysFile); err != nil {
			return err
		}
	}
	h := yardstick.New(secrets)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	// The same server timeouts as latchkey serve.
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Printf("baseline listening on http://%s (%d keys)\n", ln.Addr(), h.Len())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
