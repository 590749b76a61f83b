package tcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/cityid/printerd/drivers"
)

// DefaultPort is used when the URI names no port.
const DefaultPort = "9100"

// ErrClosed is returned by operations on a closed Conn.
var ErrClosed = errors.New("tcp: connection closed")

// Conn is a TCP link to a printer. It implements drivers.LinkCloser.
type Conn struct {
	addr string

	mu     sync.Mutex
	c      net.Conn
	closed bool
}

var _ drivers.LinkCloser = (*Conn)(nil)

// Open is the drivers.Transport for tcp:// URIs. An error is a
// *drivers.Error (see Dial).
func Open(ctx context.Context, u *url.URL) (drivers.LinkCloser, error) {
	if u.Host == "" {
		return nil, openError(drivers.BadConfig, fmt.Errorf("tcp: URI %q names no host: want tcp://host:port", u.Redacted()))
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), DefaultPort)
	}
	return Dial(ctx, addr)
}

// Dial connects to addr (host:port). A failure is a *drivers.Error before
// feed: BadConfig when addr cannot name a printer (a host name that does
// not resolve, a malformed address or port), Offline when the printer may
// come up (refused, unreachable, timed out, a name server not answering).
func Dial(ctx context.Context, addr string) (*Conn, error) {
	c := &Conn{addr: addr}
	nc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.c = nc
	return c, nil
}

func (c *Conn) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err == nil {
		return nc, nil
	}
	var dns *net.DNSError
	var addr *net.AddrError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return nil, openError(drivers.BadConfig, fmt.Errorf("tcp: dial %s: %w (check the printer's host name)", c.addr, err))
	case errors.As(err, &addr):
		return nil, openError(drivers.BadConfig, fmt.Errorf("tcp: dial %s: %w (want tcp://host:port)", c.addr, err))
	}
	return nil, openError(drivers.Offline, fmt.Errorf("tcp: dial %s: %w (is the printer on and its network port enabled?)", c.addr, err))
}

// openError is a failure to open (or reopen) the connection: no card moved.
func openError(code drivers.Code, err error) error {
	return &drivers.Error{Op: "open", Code: code, Feed: drivers.BeforeFeed, Err: err}
}

func (c *Conn) current() (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.c == nil {
		return nil, fmt.Errorf("tcp: %s is not connected (a reset failed): reset again", c.addr)
	}
	return c.c, nil
}

// io runs f with the connection's deadline taken from ctx, and cut short
// when ctx is cancelled.
func (c *Conn) io(ctx context.Context, what string, f func(net.Conn) (int, error)) (int, error) {
	nc, err := c.current()
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	dl, _ := ctx.Deadline()
	if err := nc.SetDeadline(dl); err != nil {
		return 0, fmt.Errorf("tcp: %s: %w", c.addr, err)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	n, err := f(nc)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !dl.IsZero() {
			// The socket deadline (ctx's) fired a hair before ctx's timer.
			return n, context.DeadlineExceeded
		}
		return n, fmt.Errorf("tcp: %s %s: %w", what, c.addr, err)
	}
	return n, nil
}

// Write sends all of b.
func (c *Conn) Write(ctx context.Context, b []byte) (int, error) {
	return c.io(ctx, "write", func(nc net.Conn) (int, error) { return nc.Write(b) })
}

// Read returns the next bytes from the printer.
func (c *Conn) Read(ctx context.Context, b []byte) (int, error) {
	return c.io(ctx, "read", func(nc net.Conn) (int, error) { return nc.Read(b) })
}

// Reset closes the connection and dials again, within ctx.
func (c *Conn) Reset(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
	nc, err := c.dial(ctx)
	if err != nil {
		return err
	}
	c.c = nc
	return nil
}

// Close closes the connection. It is safe to call twice.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.c == nil {
		return nil
	}
	err := c.c.Close()
	c.c = nil
	return err
}

// String names the connection.
func (c *Conn) String() string { return "tcp://" + c.addr }
