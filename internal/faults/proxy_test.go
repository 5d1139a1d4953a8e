package faults

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// echoServer is a line echo server on 127.0.0.1:0 that counts the
// connections it accepted.
type echoServer struct {
	ln       net.Listener
	accepted atomic.Int64
}

// MustEchoServer starts an echo server for the proxy to forward to, closed when the test ends.
func MustEchoServer(tb testing.TB) *echoServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	e := &echoServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.accepted.Add(1)
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	tb.Cleanup(func() { ln.Close() })
	return e
}

// MustProxy starts a proxy to target, closed when the test ends.
func MustProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p, err := NewProxy(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// mustDial connects to addr, closed when the test ends.
func mustDial(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes line and reads it back within d.
func roundTrip(c net.Conn, r *bufio.Reader, line string, d time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(d))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return got[:len(got)-1], nil
}

// mustEcho fails unless line comes back through c within two seconds.
func mustEcho(tb testing.TB, c net.Conn, r *bufio.Reader, line string) {
	tb.Helper()
	got, err := roundTrip(c, r, line, 2*time.Second)
	if err != nil || got != line {
		tb.Fatalf("echo %q: got %q, %v; want %q", line, got, err, line)
	}
}

// mustEchoLink returns an echo server, a proxy in front of it and a
// connection through the proxy that has echoed "before": the start of the
// cases that break a working link.
func mustEchoLink(tb testing.TB) (*echoServer, *Proxy, net.Conn, *bufio.Reader) {
	tb.Helper()
	e := MustEchoServer(tb)
	p := MustProxy(tb, e.ln.Addr().String())
	c := mustDial(tb, p.Addr())
	r := bufio.NewReader(c)
	mustEcho(tb, c, r, "before")
	return e, p, c, r
}

// wantClosed fails unless reading from r (c's reader) finds c closed
// within two seconds, neither data nor a timeout.
func wantClosed(tb testing.TB, c net.Conn, r io.Reader, what string) {
	tb.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		tb.Fatalf("%s: got %v, want the connection closed", what, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestProxyForwards checks a new proxy copies bytes both ways, large writes too.
func TestProxyForwards(t *testing.T) {
	e := MustEchoServer(t)
	p := MustProxy(t, e.ln.Addr().String())
	if p.Mode() != Forward {
		t.Fatalf("new proxy: got mode %v, want forward", p.Mode())
	}
	c := mustDial(t, p.Addr())
	r := bufio.NewReader(c)
	for _, s := range []string{"a", "hello", string(make([]byte, 100_000))} {
		mustEcho(t, c, r, s)
	}
}

// TestProxyRefuseAndHeal checks Refuse ends open connections and refuses dials, and Heal brings the same address back.
func TestProxyRefuseAndHeal(t *testing.T) {
	_, p, c, r := mustEchoLink(t)

	if err := p.Refuse(); err != nil {
		t.Fatal(err)
	}
	// The open connection ends at once.
	wantClosed(t, c, r, "read on a connection open at Refuse")
	// A new dial is refused.
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while refusing: got %v, want connection refused", err)
	}
	if p.Conns() != 0 {
		t.Fatalf("conns while refusing: got %d, want 0", p.Conns())
	}

	addr := p.Addr()
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	if p.Addr() != addr {
		t.Fatalf("address after heal: got %s, want %s", p.Addr(), addr)
	}
	c2 := mustDial(t, addr)
	mustEcho(t, c2, bufio.NewReader(c2), "after")
}

// TestProxyPartitionHoldsAndResumes checks a partition holds bytes and new connections silently, and delivers them in order on heal.
func TestProxyPartitionHoldsAndResumes(t *testing.T) {
	e, p, c, r := mustEchoLink(t)

	if err := p.Partition(); err != nil {
		t.Fatal(err)
	}
	// An open connection stays open but nothing comes back.
	if got, err := roundTrip(c, r, "held", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("echo during partition: got %q, %v; want a timeout", got, err)
	}
	// A new connection is accepted, but never reaches the target.
	c2 := mustDial(t, p.Addr())
	r2 := bufio.NewReader(c2)
	if got, err := roundTrip(c2, r2, "new", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("echo on a connection made during partition: got %q, %v; want a timeout", got, err)
	}
	if n := e.accepted.Load(); n != 1 {
		t.Fatalf("target accepted %d connections during the partition, want 1 (the one from before)", n)
	}
	if n := p.Conns(); n != 2 {
		t.Fatalf("conns held: got %d, want 2", n)
	}

	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	// Held bytes arrive late and in order; the connections go on working.
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
		t.Fatalf("held line after heal: got %q, %v; want %q", got, err, "held\n")
	}
	mustEcho(t, c, r, "after")
	c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if got, err := r2.ReadString('\n'); err != nil || got != "new\n" {
		t.Fatalf("line from the held new connection after heal: got %q, %v; want %q", got, err, "new\n")
	}
	mustEcho(t, c2, r2, "after2")
}

// TestProxyPartitionHoldsTheClose checks a client's close sent into a partition reaches the target only on heal.
func TestProxyPartitionHoldsTheClose(t *testing.T) {
	// A close sent into a partition reaches the target only on heal.
	var closedAt atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, s)
		closedAt.Store(time.Now().UnixNano())
		s.Close()
	}()
	p := MustProxy(t, ln.Addr().String())
	c := mustDial(t, p.Addr())
	io.WriteString(c, "x")
	time.Sleep(50 * time.Millisecond)
	p.Partition()
	c.Close()
	time.Sleep(200 * time.Millisecond)
	if closedAt.Load() != 0 {
		t.Fatal("the target saw the close during the partition")
	}
	healed := time.Now()
	p.Heal()
	deadline := time.Now().Add(2 * time.Second)
	for closedAt.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if at := closedAt.Load(); at == 0 || at < healed.UnixNano() {
		t.Fatalf("target saw the close at %d, want after the heal at %d", at, healed.UnixNano())
	}
}

// TestProxyRefuseDuringPartition checks Refuse also ends the connections a partition holds, never dialling them upstream.
func TestProxyRefuseDuringPartition(t *testing.T) {
	e, p, c, _ := mustEchoLink(t)
	p.Partition()
	c2 := mustDial(t, p.Addr()) // held, never dialled upstream
	p.Refuse()
	for i, conn := range []net.Conn{c, c2} {
		wantClosed(t, conn, conn, fmt.Sprintf("conn %d after Refuse", i))
	}
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	c3 := mustDial(t, p.Addr())
	mustEcho(t, c3, bufio.NewReader(c3), "after")
	if n := e.accepted.Load(); n != 2 {
		t.Fatalf("target accepted %d connections, want 2 (the held one was never dialled)", n)
	}
}

// TestProxyHalfClose checks a client's half-close is forwarded and the rest of the answer still arrives.
func TestProxyHalfClose(t *testing.T) {
	e := MustEchoServer(t)
	p := MustProxy(t, e.ln.Addr().String())
	c := mustDial(t, p.Addr())
	io.WriteString(c, "last words")
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "last words" {
		t.Fatalf("after half-close: got %q, %v; want %q and EOF", got, err, "last words")
	}
}

// TestProxyClose checks Close returns with connections held in a partition, closes them, and is final.
func TestProxyClose(t *testing.T) {
	e := MustEchoServer(t)
	p := MustProxy(t, e.ln.Addr().String())
	c := mustDial(t, p.Addr())
	mustEcho(t, c, bufio.NewReader(c), "x")
	p.Partition()
	mustDial(t, p.Addr())
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with connections held in a partition")
	}
	wantClosed(t, c, c, "read after Close")
	if err := p.Heal(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Heal after Close: got %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := p.SetMode(Mode(7)); err == nil {
		t.Fatal("SetMode(7): want an error")
	}
}

// TestProxyTargetDown checks a client of a proxy whose target refuses is closed, not left hanging.
func TestProxyTargetDown(t *testing.T) {
	// A dial of a target that refuses ends the client connection.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	p := MustProxy(t, addr)
	c := mustDial(t, p.Addr())
	wantClosed(t, c, c, "read through a proxy whose target is down")
}

// TestProxyConcurrentSwitching flips modes while clients talk, for the race
// detector and to show nothing deadlocks.
func TestProxyConcurrentSwitching(t *testing.T) {
	e := MustEchoServer(t)
	p := MustProxy(t, e.ln.Addr().String())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", p.Addr(), 200*time.Millisecond)
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				r := bufio.NewReader(c)
				for range 5 {
					if _, err := roundTrip(c, r, "ping", 100*time.Millisecond); err != nil {
						break
					}
					ok.Add(1)
				}
				c.Close()
			}
		}()
	}
	modes := []Mode{Partition, Forward, Refuse, Partition, Refuse, Forward}
	for i := range 60 {
		if err := p.SetMode(modes[i%len(modes)]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		p.Mode()
		p.Conns()
	}
	p.Heal()
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if ok.Load() == 0 {
		t.Fatal("no round trip succeeded")
	}
	c := mustDial(t, p.Addr())
	mustEcho(t, c, bufio.NewReader(c), "still works")
	t.Logf("%d round trips while switching modes", ok.Load())
}
