// Package faults holds a fault suite that drives real `latchkey serve`
// processes and breaks the network between one of them and its
// PostgreSQL and Redis the way networks break. The non-test code is Proxy,
// the TCP proxy that does the breaking; the suite itself lives in the
// package's _test.go files.
package faults

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"
)

// Mode is what a Proxy does with connections.
type Mode int

const (
	// Forward copies bytes both ways, as if the proxy were not there.
	Forward Mode = iota
	// Refuse closes the listening socket, so a dial gets "connection
	// refused", and resets every open connection at once, as a crashed or
	// firewalled (REJECT) server would.
	Refuse
	// Partition is the silent network: open connections stay open and new
	// ones are accepted, but nothing is forwarded in either direction, not
	// even a close, so a client only learns of it from its own timeouts.
	Partition
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case Forward:
		return "forward"
	case Refuse:
		return "refuse"
	case Partition:
		return "partition"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ErrClosed is returned by a Proxy's methods after Close.
var ErrClosed = errors.New("faults: proxy closed")

// Proxy is a TCP proxy on 127.0.0.1 in front of one target address, whose
// Mode a test switches at any time. It listens on the same port for its
// whole life: healing a Refuse opens the port again.
//
// Healing a Partition resumes the connections it held: bytes sent into the
// partition (and closes) are delivered, late, in order, as TCP
// retransmission delivers them after a short partition. Connections
// accepted during the partition are connected to the target when it heals.
//
// A Proxy is safe for concurrent use.
type Proxy struct {
	target string
	addr   string // fixed by the first listen

	// DialTimeout bounds the proxy's dial of the target (default 5 s); a
	// connection whose dial fails is closed. Set it before the first
	// connection.
	DialTimeout time.Duration

	mu     sync.Mutex
	mode   Mode
	ln     net.Listener       // nil while refusing or closed
	gate   chan struct{}      // open during a partition, closed outside one
	links  map[*link]struct{} // open connections
	closed bool
	wg     sync.WaitGroup
}

// link is one client connection and, once dialled, its upstream.
type link struct {
	client   net.Conn
	mu       sync.Mutex
	upstream net.Conn
	done     chan struct{} // closed by shut
	once     sync.Once
}

// shut closes both ends of the link. With reset it closes them with
// SO_LINGER 0, so the peers see a connection reset rather than an orderly
// end.
func (l *link) shut(reset bool) {
	l.once.Do(func() {
		close(l.done)
		l.mu.Lock()
		up := l.upstream
		l.mu.Unlock()
		for _, c := range []net.Conn{l.client, up} {
			if c == nil {
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok && reset {
				tc.SetLinger(0)
			}
			c.Close()
		}
	})
}

// ProxyURL starts a proxy forwarding to the host of rawURL (a database or
// Redis URL) and returns it with rawURL pointing at the proxy instead: how
// a test puts a breakable link between a client and its server.
func ProxyURL(rawURL string) (*Proxy, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("faults: %w", err)
	}
	p, err := NewProxy(u.Host)
	if err != nil {
		return nil, "", err
	}
	u.Host = p.Addr()
	return p, u.String(), nil
}

// NewProxy starts a proxy on 127.0.0.1:0 forwarding to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faults: listen: %w", err)
	}
	closedGate := make(chan struct{})
	close(closedGate)
	p := &Proxy{
		target:      target,
		addr:        ln.Addr().String(),
		DialTimeout: 5 * time.Second,
		ln:          ln,
		gate:        closedGate,
		links:       make(map[*link]struct{}),
	}
	p.wg.Add(1)
	go p.accept(ln)
	return p, nil
}

// Addr is the proxy's host:port, the same in every mode.
func (p *Proxy) Addr() string { return p.addr }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Mode returns the current mode.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Conns returns the number of client connections the proxy holds open
// (none the moment Refuse or Close returns).
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Refuse switches to Refuse mode.
func (p *Proxy) Refuse() error { return p.SetMode(Refuse) }

// Partition switches to Partition mode.
func (p *Proxy) Partition() error { return p.SetMode(Partition) }

// Heal switches back to Forward mode: after a Refuse the port listens
// again, after a Partition the held connections resume.
func (p *Proxy) Heal() error { return p.SetMode(Forward) }

// SetMode switches to m. Leaving Refuse opens the port again, retrying
// for a second should another socket hold it for a moment; the error says
// so if it cannot.
func (p *Proxy) SetMode(m Mode) error {
	if m < Forward || m > Partition {
		return fmt.Errorf("faults: unknown mode %d", int(m))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	old := p.mode
	if old == m {
		return nil
	}
	if old == Refuse {
		ln, err := listenAgain(p.addr)
		if err != nil {
			return err
		}
		p.ln = ln
		p.wg.Add(1)
		go p.accept(ln)
	}
	if m == Partition {
		p.gate = make(chan struct{})
	} else if old == Partition {
		close(p.gate)
	}
	if m == Refuse {
		p.ln.Close()
		p.ln = nil
		for l := range p.links {
			l.shut(true)
			delete(p.links, l)
		}
	}
	p.mode = m
	return nil
}

// listenAgain listens on addr, retrying briefly.
func listenAgain(addr string) (net.Listener, error) {
	var err error
	for range 20 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("faults: listen again on %s: %w", addr, err)
}

// Close stops the proxy and closes every connection. Calling it again
// does nothing.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		if p.ln != nil {
			p.ln.Close()
			p.ln = nil
		}
		for l := range p.links {
			l.shut(false)
			delete(p.links, l)
		}
	}
	p.mu.Unlock()
	p.wg.Wait() // at once when an earlier Close waited already
	return nil
}

// accept serves one listener until it is closed.
func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		l := &link{client: c, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed || p.mode == Refuse {
			// Accepted just before the listener closed.
			p.mu.Unlock()
			l.shut(true)
			continue
		}
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// serve dials the target for l, once no partition holds it, and copies
// both ways until either side ends.
func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	defer func() {
		l.shut(false)
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	if !p.wait(l) {
		return
	}
	up, err := net.DialTimeout("tcp", p.target, p.DialTimeout)
	if err != nil {
		return
	}
	l.mu.Lock()
	l.upstream = up
	l.mu.Unlock()
	select {
	case <-l.done: // shut while dialling: shut did not see up
		up.Close()
		return
	default:
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(l, up, l.client) }()
	go func() { defer wg.Done(); p.pump(l, l.client, up) }()
	wg.Wait()
}

// pump copies src to dst. Whatever it reads (bytes, or the end of the
// stream) waits out a partition before it reaches dst.
func (p *Proxy) pump(l *link, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, rerr := src.Read(buf)
		if !p.wait(l) {
			return
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				l.shut(false)
				return
			}
		}
		if rerr != nil {
			// Pass the end on (half-close), or end the link on an error.
			if tc, ok := dst.(*net.TCPConn); ok && errors.Is(rerr, io.EOF) {
				tc.CloseWrite()
				return
			}
			l.shut(false)
			return
		}
	}
}

// wait blocks while the proxy is partitioned. It reports false when the
// link was shut meanwhile (a Refuse or Close), true when it may go on.
func (p *Proxy) wait(l *link) bool {
	for {
		p.mu.Lock()
		mode, gate, closed := p.mode, p.gate, p.closed
		p.mu.Unlock()
		if closed || mode == Refuse {
			return false
		}
		select {
		case <-l.done:
			return false
		default:
		}
		if mode != Partition {
			return true
		}
		select {
		case <-gate:
		case <-l.done:
			return false
		}
	}
}
