package serial

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bugst "go.bug.st/serial"
	"go.bug.st/serial/enumerator"

	"github.com/cityid/printerd/drivers"
)

// DefaultBaud is the speed used when the URI names none.
const DefaultBaud = 115200

// poll is the longest single read time-out; a blocked Read notices its
// context and Close within it.
const poll = 50 * time.Millisecond

// chunk is the largest single write, between which the context is checked
// (about 0.35 s at 115200 baud).
const chunk = 4096

// ErrClosed is returned by operations on a closed Port.
var ErrClosed = errors.New("serial: port closed")

// Port is a serial link to a printer. It implements drivers.LinkCloser.
type Port struct {
	path string
	mode bugst.Mode

	mu     sync.Mutex
	port   bugst.Port // nil while closed or after a failed reopen
	closed bool
}

var _ drivers.LinkCloser = (*Port)(nil)

// Bauds are the speeds a serial:// URI may ask for: the standard rates.
// A card printer's port runs at one of them (Evolis 9600 or 115200), so
// anything else is a typing mistake (baud=11520).
var Bauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600}

// baudList is Bauds for an error message.
func baudList() string {
	s := make([]string, len(Bauds))
	for i, b := range Bauds {
		s[i] = strconv.Itoa(b)
	}
	return strings.Join(s, ", ")
}

// Params are the URI parameters Open reads, for
// drivers.Registry.RegisterParams.
var Params = []string{"baud"}

// Open is the drivers.Transport for serial:// URIs. An error is a
// *drivers.Error (see OpenPath); a URI without a path or with a bad baud
// is BadConfig.
func Open(ctx context.Context, u *url.URL) (drivers.LinkCloser, error) {
	path := u.Path
	if path == "" {
		path = u.Opaque
	}
	if path == "" {
		return nil, openError(drivers.BadConfig, fmt.Errorf("serial: URI %q names no device: want serial:///dev/ttyUSB0?baud=115200", u.Redacted()))
	}
	baud := DefaultBaud
	if v := u.Query().Get("baud"); v != "" {
		b, err := strconv.Atoi(v)
		if err != nil || !slices.Contains(Bauds, b) {
			return nil, openError(drivers.BadConfig, fmt.Errorf("serial: URI parameter baud=%q: want one of %s", v, baudList()))
		}
		baud = b
	}
	return OpenPath(ctx, path, baud)
}

// OpenPath opens the serial device at path at baud, 8N1. A failure is a
// *drivers.Error before feed: BadConfig when the path cannot be the
// printer's port as configured (no such device file, permission denied,
// not a serial port, a speed the port refuses), Offline otherwise (the
// port is held by another program, the hardware behind it is gone, ctx
// ended). A USB-serial adapter's device file exists only while it is
// plugged in: such a printer must be plugged in when printerd starts.
func OpenPath(ctx context.Context, path string, baud int) (*Port, error) {
	p := &Port{path: path, mode: bugst.Mode{BaudRate: baud, DataBits: 8, Parity: bugst.NoParity, StopBits: bugst.OneStopBit}}
	if err := ctx.Err(); err != nil {
		return nil, openError(drivers.Offline, fmt.Errorf("serial: open %s: %w", path, err))
	}
	port, err := p.open()
	if err != nil {
		return nil, err
	}
	p.port = port
	return p, nil
}

func (p *Port) open() (bugst.Port, error) {
	port, err := bugst.Open(p.path, &p.mode)
	if err != nil {
		return nil, explain(p.path, p.mode.BaudRate, err)
	}
	return port, nil
}

// explain turns go.bug.st/serial's open errors into *drivers.Error whose
// code says whether to fix the configuration (BadConfig) or wait for the
// printer (Offline) and whose message says how.
func explain(path string, baud int, err error) error {
	noDevice := func() error {
		return openError(drivers.BadConfig, fmt.Errorf("serial: no device %s: check the path, the cable and power, and see printerd diag list: %w", path, err))
	}
	denied := func() error {
		return openError(drivers.BadConfig, fmt.Errorf("serial: permission denied on %s: add the user to group dialout (usermod -aG dialout USER, then log in again): %w", path, err))
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return noDevice()
	case errors.Is(err, fs.ErrPermission):
		return denied()
	}
	var pe *bugst.PortError
	if errors.As(err, &pe) {
		switch pe.Code() {
		case bugst.PermissionDenied:
			return denied()
		case bugst.PortBusy:
			return openError(drivers.Offline, fmt.Errorf("serial: %s is busy: another program or a running printerd holds it; stop it or use diag --nats: %w", path, err))
		case bugst.PortNotFound:
			return noDevice()
		case bugst.InvalidSerialPort:
			return openError(drivers.BadConfig, fmt.Errorf("serial: %s is not a serial port: check the path and see printerd diag list: %w", path, err))
		case bugst.InvalidSpeed:
			return openError(drivers.BadConfig, fmt.Errorf("serial: %s: speed %d baud not supported: use a standard rate such as 115200: %w", path, baud, err))
		}
	}
	return openError(drivers.Offline, fmt.Errorf("serial: open %s: %w", path, err))
}

// openError is a failure to open (or reopen) the port: no card moved.
func openError(code drivers.Code, err error) error {
	return &drivers.Error{Op: "open", Code: code, Feed: drivers.BeforeFeed, Err: err}
}

func (p *Port) current() (bugst.Port, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if p.port == nil {
		return nil, fmt.Errorf("serial: %s is not open (a write was abandoned or a reset failed): reset the printer", p.path)
	}
	return p.port, nil
}

// Write sends all of b, in chunks, checking ctx between them. A printer
// that stops taking bytes blocks the write in the kernel, where neither a
// context nor closing the descriptor reaches it; so the write runs in its
// own goroutine and, when ctx ends first, Write returns and abandons the
// port to that goroutine, which closes it once the write comes back. The
// link then needs a Reset (a fresh open) before it is used again.
func (p *Port) Write(ctx context.Context, b []byte) (int, error) {
	port, err := p.current()
	if err != nil {
		return 0, err
	}
	res := make(chan writeResult, 1)
	go func() {
		done := 0
		for done < len(b) && ctx.Err() == nil {
			n, err := port.Write(b[done:min(len(b), done+chunk)])
			done += n
			if err != nil {
				res <- writeResult{done, err}
				return
			}
		}
		res <- writeResult{done, nil}
	}()
	select {
	case r := <-res:
		if r.err != nil {
			return r.n, fmt.Errorf("serial: write %s: %w", p.path, r.err)
		}
		if r.n < len(b) {
			return r.n, ctx.Err()
		}
		return r.n, nil
	case <-ctx.Done():
		p.abandon(port, res)
		return 0, fmt.Errorf("serial: write %s abandoned, the printer stopped taking data: %w", p.path, ctx.Err())
	}
}

// writeResult is what a write goroutine reports.
type writeResult struct {
	n   int
	err error
}

// abandon gives up port while a write on it is blocked: the Port forgets
// it (a Reset opens a new one) and the port is closed when the write
// returns, so its descriptor number is never reused under the write.
func (p *Port) abandon(port bugst.Port, res <-chan writeResult) {
	p.mu.Lock()
	if p.port == port {
		p.port = nil
	}
	p.mu.Unlock()
	go func() {
		<-res
		port.Close()
	}()
}

// Read returns the next bytes from the printer, blocking until some arrive,
// ctx is done or the port fails.
func (p *Port) Read(ctx context.Context, b []byte) (int, error) {
	for {
		port, err := p.current()
		if err != nil {
			return 0, err
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		t := poll
		if dl, ok := ctx.Deadline(); ok {
			if r := time.Until(dl); r < t {
				t = max(r, time.Millisecond)
			}
		}
		if err := port.SetReadTimeout(t); err != nil {
			return 0, fmt.Errorf("serial: %s: set read time-out: %w", p.path, err)
		}
		n, err := port.Read(b)
		if n > 0 {
			return n, nil
		}
		if err != nil {
			if _, cerr := p.current(); cerr != nil {
				return 0, cerr
			}
			return 0, fmt.Errorf("serial: read %s: %w", p.path, err)
		}
	}
}

// Reset closes and reopens the port, within ctx.
func (p *Port) Reset(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.port != nil {
		p.port.Close()
		p.port = nil
	}
	var err error
	for {
		var port bugst.Port
		if port, err = p.open(); err == nil {
			p.port = port
			return nil
		}
		// A USB serial adapter may take a moment to come back.
		select {
		case <-ctx.Done():
			return fmt.Errorf("serial: reset %s: %w (last error: %w)", p.path, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close closes the port. It is safe to call twice.
func (p *Port) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if p.port == nil {
		return nil
	}
	err := p.port.Close()
	p.port = nil
	return err
}

// String names the port.
func (p *Port) String() string { return "serial://" + p.path }

// PortInfo describes a serial port found by List.
type PortInfo struct {
	Name    string `json:"name"`
	USB     bool   `json:"usb"`
	VID     string `json:"vid,omitempty"`
	PID     string `json:"pid,omitempty"`
	Serial  string `json:"serial,omitempty"`
	Product string `json:"product,omitempty"`
}

// URI returns the printer URI for the port.
func (i PortInfo) URI() string { return "serial://" + i.Name }

// List returns the machine's serial ports, without probing any device.
func List() ([]PortInfo, error) {
	ports, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, fmt.Errorf("serial: list ports: %w", err)
	}
	out := make([]PortInfo, 0, len(ports))
	for _, d := range ports {
		out = append(out, PortInfo{Name: d.Name, USB: d.IsUSB, VID: d.VID, PID: d.PID, Serial: d.SerialNumber, Product: d.Product})
	}
	return out, nil
}
