package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
)

// Registry is a set of named in-process devices behind sim:// URIs. Each
// daemon, demo or test that opens sim:// printers makes its own (the zero
// value is empty and ready) and opens them with its Transport, so two of
// them in one process never share a device. It is safe for concurrent use.
type Registry struct {
	mu sync.Mutex
	m  map[string]*Device
	mc map[string]*Magicard // lang=magicard devices (magicard_transport.go)
}

// Register makes d the device behind sim://<name>. It fails if the name is
// taken.
func (r *Registry) Register(name string, d *Device) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		return fmt.Errorf("sim: device %q registered twice", name)
	}
	if r.m == nil {
		r.m = map[string]*Device{}
	}
	r.m[name] = d
	return nil
}

// Lookup returns the device behind sim://<name>, or nil. Tests and the demo
// use it to count cards, load cards and ribbon or inject faults behind a
// printer opened by URI.
func (r *Registry) Lookup(name string) *Device {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[name]
}

// Unregister forgets the device behind sim://<name>; the next open of that
// name makes a new one.
func (r *Registry) Unregister(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, name)
	delete(r.mc, name)
}

// OptionsFromURI reads device options from a sim:// URI:
// sim://<name>?out=DIR&speed=X&keep=N&faults=SPEC (keep: Options.KeepCards).
// Of the driver's parameters,
// ribbon (the ribbon loaded) and rotate (the rotation the driver applies,
// which the simulator undoes) set the device's too; others are ignored.
func OptionsFromURI(u *url.URL) (Options, error) {
	name := u.Host
	if name == "" {
		name = u.Opaque
	}
	if name == "" {
		return Options{}, fmt.Errorf("sim: URI %q: want sim://<name>", u.Redacted())
	}
	q := u.Query()
	o := Options{Name: name, Out: q.Get("out")}
	if v := q.Get("speed"); v != "" {
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || s < 0 {
			return o, fmt.Errorf("sim: URI parameter speed=%q: want a number >= 0 (0 no delay, 1 a real printer's pace)", v)
		}
		o.Speed = s
	}
	// The driver's own parameters describe the printer too: the ribbon
	// loaded and the rotation the driver applies.
	if v := q.Get("ribbon"); v != "" {
		o.Ribbon = card.Ribbon(v)
		if err := o.Ribbon.Valid(); err != nil {
			return o, fmt.Errorf("sim: URI parameter ribbon: %w", err)
		}
	}
	if v := q.Get("rotate"); v != "" {
		r, err := strconv.Atoi(v)
		if err != nil || (r != 90 && r != 270) {
			return o, fmt.Errorf("sim: URI parameter rotate=%q: want 90 or 270", v)
		}
		o.Rotation = r
	}
	if v := q.Get("keep"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return o, fmt.Errorf("sim: URI parameter keep=%q: want a whole number >= 0 (printed cards kept for Cards; 0 the default, %d)", v, DefaultKeepCards)
		}
		o.KeepCards = n
	}
	if v := q.Get("vpcd"); v != "" {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return o, fmt.Errorf("sim: URI parameter vpcd=%q: want host:port of vsmartcard's vpcd, such as 127.0.0.1:35963", v)
		}
		o.VPCD = v
	}
	if v := q.Get("faults"); v != "" {
		f, err := ParseFaults(v)
		if err != nil {
			return o, fmt.Errorf("sim: URI parameter faults: %w", err)
		}
		o.Faults = f
	}
	return o, nil
}

// Params are the URI parameters of sim:// the simulator reads (its own,
// the driver's ribbon and rotate, and the Magicard simulator's layout and
// head), for drivers.Registry.RegisterParams.
var Params = []string{"out", "speed", "ribbon", "rotate", "keep", "faults", "layout", "head", "vpcd"}

// Transport opens sim://<name>?out=DIR&speed=X&faults=SPEC on r: an
// in-process simulated printer. The first open of a name makes the device
// (with the URI's options) and registers it in r; later opens connect to
// the same device, whose options then stay as they were. The link
// implements drivers.Labeler. An error is a *drivers.Error before feed:
// BadConfig for a URI OptionsFromURI refuses. The method value r.Transport
// is a drivers.Transport.
func (r *Registry) Transport(ctx context.Context, u *url.URL) (drivers.LinkCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, &drivers.Error{Op: "open", Code: drivers.Offline, Feed: drivers.BeforeFeed, Err: err}
	}
	if u.Query().Get("lang") == "magicard" {
		return r.magicardTransport(u)
	}
	o, err := OptionsFromURI(u)
	if err != nil {
		return nil, &drivers.Error{Op: "open", Code: drivers.BadConfig, Feed: drivers.BeforeFeed, Err: err}
	}
	r.mu.Lock()
	if r.mc[o.Name] != nil {
		r.mu.Unlock()
		return nil, &drivers.Error{Op: "open", Code: drivers.BadConfig, Feed: drivers.BeforeFeed,
			Err: fmt.Errorf("sim: device %q is a Magicard: open it with lang=magicard", o.Name)}
	}
	d := r.m[o.Name]
	if d == nil {
		if o.Serial == "" {
			o.Serial = processSerial(o)
		}
		d = New(o)
		if r.m == nil {
			r.m = map[string]*Device{}
		}
		r.m[o.Name] = d
	}
	r.mu.Unlock()
	return d.Connect(), nil
}

var _ drivers.Transport = (*Registry)(nil).Transport

// bootID tells this process's in-process devices from another process's.
var bootID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// processSerial is the serial number of an in-process device with none
// set: the name's default serial and this process's boot id. An
// in-process device lives and dies with its process, so a daemon
// restarted on a sim:// printer sees another printer (another serial)
// and never takes the new device's counters for the old one's.
func processSerial(o Options) string {
	return o.withDefaults().Serial + "-" + bootID
}

// Link is an in-process connection to a Device: the host side of a
// buffered pipe whose device side a goroutine serves. It implements
// drivers.LinkCloser and drivers.Labeler.
type Link struct {
	dev  *Device   // the Evolis device, or nil
	mc   *Magicard // the Magicard device, or nil
	peer peer      // whichever of the two

	mu     sync.Mutex
	toDev  *pipe
	toHost *pipe
	cancel context.CancelFunc
	done   chan struct{}
	closed bool
}

var (
	_ drivers.LinkCloser = (*Link)(nil)
	_ drivers.Labeler    = (*Link)(nil)
)

// Connect opens an in-process link to d and starts serving it. Close the
// link to stop.
func (d *Device) Connect() *Link {
	l := &Link{dev: d, peer: d}
	l.start()
	return l
}

// peer is the device side a Link serves: an Evolis Device or a Magicard.
type peer interface {
	Serve(ctx context.Context, rw io.ReadWriter) error
	SoftReset()
	SetLabel(label string)
	Options() Options
}

func (l *Link) start() {
	l.toDev, l.toHost = newPipe(), newPipe()
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done = make(chan struct{})
	toDev, toHost, done := l.toDev, l.toHost, l.done
	go func() {
		defer close(done)
		err := l.peer.Serve(ctx, &devSide{ctx: ctx, in: toDev, out: toHost})
		if o := l.peer.Options(); err != nil && !errors.Is(err, context.Canceled) {
			o.Logger.Debug("sim: link ended", "device", o.Name, "err", err)
		}
		// The link is down: the host sees end of stream.
		toDev.close()
		toHost.close()
	}()
}

func (l *Link) stop() {
	l.cancel()
	l.toDev.close()
	l.toHost.close()
	<-l.done
}

func (l *Link) pipes() (*pipe, *pipe, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, nil, errors.New("sim: link closed")
	}
	return l.toDev, l.toHost, nil
}

// Write sends p to the device. It does not block on the device.
func (l *Link) Write(ctx context.Context, p []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	in, _, err := l.pipes()
	if err != nil {
		return 0, err
	}
	if err := in.write(p); err != nil {
		return 0, fmt.Errorf("sim: write: %w", err)
	}
	return len(p), nil
}

// Read returns the next bytes the device sent, waiting until some arrive,
// ctx ends or the link goes down (io.EOF).
func (l *Link) Read(ctx context.Context, p []byte) (int, error) {
	_, out, err := l.pipes()
	if err != nil {
		return 0, err
	}
	return out.read(ctx, p)
}

// Reset is a reconnect: the current connection is cut, the device is soft
// reset (as a USB SOFT_RESET or a power cycle would) and a new connection
// opened.
func (l *Link) Reset(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("sim: link closed")
	}
	l.stop()
	l.peer.SoftReset()
	l.start()
	return ctx.Err()
}

// Close ends the connection. It is safe to call twice.
func (l *Link) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.stop()
	return nil
}

// SetLabel names the next card the device prints (drivers.Labeler).
func (l *Link) SetLabel(label string) { l.peer.SetLabel(label) }

// Device returns the Evolis device behind the link, or nil for a
// Magicard (Magicard).
func (l *Link) Device() *Device { return l.dev }

// Magicard returns the Magicard device behind the link, or nil.
func (l *Link) Magicard() *Magicard { return l.mc }

// devSide is the device's end of the pipes, an io.ReadWriter for Serve.
type devSide struct {
	ctx context.Context
	in  *pipe
	out *pipe
}

func (s *devSide) Read(p []byte) (int, error)  { return s.in.read(s.ctx, p) }
func (s *devSide) Write(p []byte) (int, error) { return len(p), s.out.write(p) }

// pipe is a one-way, unbounded, in-memory byte pipe: writes never block,
// reads wait for data, ctx or close, like a serial line with a big buffer.
type pipe struct {
	mu     sync.Mutex
	buf    []byte
	closed bool
	wake   chan struct{}
}

func newPipe() *pipe { return &pipe{wake: make(chan struct{})} }

func (p *pipe) write(b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return io.ErrClosedPipe
	}
	p.buf = append(p.buf, b...)
	close(p.wake)
	p.wake = make(chan struct{})
	return nil
}

func (p *pipe) read(ctx context.Context, b []byte) (int, error) {
	for {
		p.mu.Lock()
		if len(p.buf) > 0 {
			n := copy(b, p.buf)
			p.buf = p.buf[n:]
			if len(p.buf) == 0 {
				p.buf = nil
			}
			p.mu.Unlock()
			return n, nil
		}
		if p.closed {
			p.mu.Unlock()
			return 0, io.EOF
		}
		w := p.wake
		p.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (p *pipe) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.wake)
	}
}
