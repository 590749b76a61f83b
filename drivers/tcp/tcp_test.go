package tcp

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/sim"
)

// echoPrinter accepts connections and answers each CR-terminated line with
// "OK\r", counting connections.
func echoPrinter(t *testing.T) (addr string, conns chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() {
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\r'); err != nil {
						return
					}
					c.Write([]byte("OK\r"))
				}
			}()
		}
	}()
	return ln.Addr().String(), conns
}

func TestConn(t *testing.T) {
	addr, conns := echoPrinter(t)
	u, _ := url.Parse("tcp://" + addr)
	l, err := Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	first := <-conns

	exchange := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := l.Write(ctx, []byte("\x1bRtp\r")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8)
		n, err := l.Read(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	if got := exchange(); got != "OK\r" {
		t.Fatalf("reply %q", got)
	}

	// A read with nothing to read ends with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = l.Read(ctx, make([]byte, 8))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent Read = %v, want deadline exceeded", err)
	}

	// Cancel wakes a read without a deadline.
	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	if _, err := l.Read(ctx, make([]byte, 8)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Read = %v", err)
	}

	// The printer drops the connection; Reset redials and the link works.
	first.Close()
	if err := l.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-conns
	if got := exchange(); got != "OK\r" {
		t.Fatalf("reply after reset %q", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write(context.Background(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	u, _ := url.Parse("tcp://")
	if _, err := Open(context.Background(), u); err == nil {
		t.Error("Open(tcp://) succeeded")
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	u, _ = url.Parse("tcp://" + addr)
	if _, err := Open(context.Background(), u); err == nil {
		t.Error("Open of a closed port succeeded")
	}
}

// TestTCPWithSimulator prints a card through the Evolis driver over TCP to
// drivers/sim, then drops the connection from the printer side and checks
// that the driver's recovery (Reset = redial) brings the printer back.
func TestTCPWithSimulator(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dev := sim.New(sim.Options{Model: "Evolis Primacy"})
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			dev.Serve(context.Background(), c) // one connection at a time, as a printer
			c.Close()
		}
	}()
	ctx := context.Background()
	u, _ := url.Parse("tcp://" + ln.Addr().String())
	link, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	p := evolis.New(link, evolis.Options{Compress: true, ReplyTimeout: time.Second})
	c := card.Card{Ribbon: card.KO, Front: card.Side{K: card.NewPlane(), O: card.NewPlane()}}
	if err := p.Print(ctx, c); err != nil {
		t.Fatal(err)
	}
	(<-conns).Close() // the printer side drops the connection
	st, err := p.Status(ctx)
	if err != nil || !st.Ready {
		t.Fatalf("Status after a dropped connection = %+v, %v; want ready after a redial", st, err)
	}
	if n := len(dev.Cards()); n != 1 {
		t.Fatalf("simulator printed %d cards, want 1", n)
	}
}

// A printer that cannot be opened is a *drivers.Error before feed, whose
// code tells a configuration to fix (BadConfig: a name that does not
// resolve, no host, an impossible port) from a printer that may come up
// (Offline: nothing listening).
func TestOpenErrorCodes(t *testing.T) {
	// A refused connection: a port that was just free.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	// This test needs a resolver that says "no such host" for a .invalid
	// name (RFC 6761); without one it cannot tell the two cases apart.
	const noSuchHost = "printerd-no-such-host.invalid"
	if _, err := net.DefaultResolver.LookupHost(context.Background(), noSuchHost); err == nil {
		t.Fatalf("%s resolves", noSuchHost)
	} else if de := (*net.DNSError)(nil); !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("looking up %s: %v: this test needs a DNS resolver that answers NXDOMAIN (check /etc/resolv.conf)", noSuchHost, err)
	}
	tests := []struct {
		uri  string
		code drivers.Code
		want string // part of the message
	}{
		{"tcp://" + noSuchHost + ":9100", drivers.BadConfig, "no such host"},
		{"tcp://" + noSuchHost, drivers.BadConfig, "no such host"},
		{"tcp://127.0.0.1:99999", drivers.BadConfig, "invalid port"},
		{"tcp:", drivers.BadConfig, "names no host"},
		{"tcp://" + refused, drivers.Offline, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			u, err := url.Parse(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			l, err := Open(ctx, u)
			if err == nil {
				l.Close()
				t.Fatal("open succeeded")
			}
			var de *drivers.Error
			if !errors.As(err, &de) || de.Code != tt.code || de.Feed != drivers.BeforeFeed || de.Op != "open" {
				t.Fatalf("err = %v (%T): want a *drivers.Error, open, %v, before feed", err, err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v: want it to say %q", err, tt.want)
			}
		})
	}
}
