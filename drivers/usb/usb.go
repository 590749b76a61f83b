package usb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/gousb"

	"github.com/cityid/printerd/drivers"
)

// Printer class codes and requests (USB printer class 1.1).
const (
	classPrinter    = 7
	subclassPrinter = 1
	protoUni        = 1
	protoBi         = 2

	reqGetDeviceID   = 0
	reqGetPortStatus = 1
	reqSoftReset     = 2

	rtClassIn  = 0xA1 // device-to-host, class, interface
	rtClassOut = 0x21 // host-to-device, class, interface
)

// Port status bits (GET_PORT_STATUS).
const (
	PortNotError   = 0x08 // the printer reports no error
	PortSelected   = 0x10 // the printer is selected (online)
	PortPaperEmpty = 0x20 // the printer is out of media
)

// defaultControlTimeout bounds a control transfer when ctx has no earlier deadline.
const defaultControlTimeout = 5 * time.Second

// writeChunk is the largest bulk OUT transfer submitted at once; ctx is
// checked between chunks.
const writeChunk = 128 << 10

// reconnectPoll is how often Reset looks for an unplugged printer again.
const reconnectPoll = 200 * time.Millisecond

// defaultLib is the real libusb, which Open, List and HasBus use; tests pass
// a table of fake devices to openWith and listWith instead.
var defaultLib lib = gousbLib{}

// Params are the URI parameters Transport reads, for
// drivers.Registry.RegisterParams.
var Params = []string{"serial"}

// Transport opens usb:// printer URIs; register it under the scheme "usb".
func Transport(ctx context.Context, u *url.URL) (drivers.LinkCloser, error) {
	return Open(ctx, u)
}

var _ drivers.Transport = Transport

// selector says which device a URI means.
type selector struct {
	auto     bool
	vid, pid gousb.ID
	serial   string
}

func (s selector) String() string {
	if s.auto {
		return "auto"
	}
	str := fmt.Sprintf("%04x:%04x", uint16(s.vid), uint16(s.pid))
	if s.serial != "" {
		str += " serial " + s.serial
	}
	return str
}

func (s selector) matches(d Device) bool {
	if !s.auto && (uint16(s.vid) != d.VendorID || uint16(s.pid) != d.ProductID) {
		return false
	}
	return s.serial == "" || s.serial == d.Serial
}

// parseSelector reads usb://auto, usb://<vid>:<pid>?serial=<serial> and
// the opaque form usb:<vid>:<pid>?serial=..., which allows product ids with
// hex letters that net/url refuses as a port number.
func parseSelector(u *url.URL) (selector, error) {
	if u.Scheme != "usb" {
		return selector{}, fmt.Errorf("usb: URI scheme %q: want usb", u.Scheme)
	}
	spec := u.Host
	if spec == "" {
		spec = u.Opaque
	}
	if spec == "" {
		spec = strings.Trim(u.Path, "/")
	}
	s := selector{serial: u.Query().Get("serial")}
	if spec == "auto" || spec == "" {
		s.auto = true
		return s, nil
	}
	vs, ps, ok := strings.Cut(spec, ":")
	if !ok {
		return selector{}, fmt.Errorf("usb: URI %q: device must be auto or <vid>:<pid> in hex", u.Redacted())
	}
	vid, err := strconv.ParseUint(strings.TrimPrefix(vs, "0x"), 16, 16)
	if err != nil {
		return selector{}, fmt.Errorf("usb: URI %q: vendor id must be 4 hex digits: %w", u.Redacted(), err)
	}
	pid, err := strconv.ParseUint(strings.TrimPrefix(ps, "0x"), 16, 16)
	if err != nil {
		return selector{}, fmt.Errorf("usb: URI %q: product id must be 4 hex digits: %w", u.Redacted(), err)
	}
	s.vid, s.pid = gousb.ID(vid), gousb.ID(pid)
	return s, nil
}

// printerSetting is where a device's printer interface lives.
type printerSetting struct {
	cfg, intf, alt int
	out, in        int // endpoint numbers; in is 0 when unidirectional
	bidi           bool
}

// findPrinterSetting returns the best printer-class interface setting of a
// device: bidirectional (protocol 2) before unidirectional (protocol 1).
func findPrinterSetting(desc *gousb.DeviceDesc) (printerSetting, bool) {
	var best printerSetting
	found := false
	for _, cfgNum := range sortedKeys(desc.Configs) {
		cfg := desc.Configs[cfgNum]
		for _, in := range cfg.Interfaces {
			for _, alt := range in.AltSettings {
				if alt.Class != classPrinter || alt.SubClass != subclassPrinter {
					continue
				}
				if alt.Protocol != protoBi && alt.Protocol != protoUni {
					continue
				}
				ps := printerSetting{cfg: cfg.Number, intf: in.Number, alt: alt.Alternate}
				for _, ep := range alt.Endpoints {
					if ep.TransferType != gousb.TransferTypeBulk {
						continue
					}
					if ep.Direction == gousb.EndpointDirectionOut && ps.out == 0 {
						ps.out = ep.Number
					}
					if ep.Direction == gousb.EndpointDirectionIn && ps.in == 0 {
						ps.in = ep.Number
					}
				}
				if ps.out == 0 {
					continue
				}
				ps.bidi = alt.Protocol == protoBi && ps.in != 0
				if !ps.bidi {
					ps.in = 0
				}
				if !found || (ps.bidi && !best.bidi) {
					best, found = ps, true
				}
			}
		}
	}
	return best, found
}

func sortedKeys(m map[int]gousb.ConfigDesc) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// Conn is an open USB printer: a drivers.LinkCloser over the printer
// interface's bulk endpoints, plus the printer class requests. Its methods
// are safe for concurrent use; they run one at a time.
type Conn struct {
	lib lib
	sel selector // what the URI asked for
	pin selector // the device actually opened, for re-finding it after unplug

	mu      sync.Mutex
	ctx     libContext
	dev     libDevice
	intf    libInterface
	set     printerSetting
	info    Device
	pending []byte // bulk IN bytes received but not yet read
	gone    bool   // the device went away; Reset re-finds it
	closed  bool
}

var _ drivers.LinkCloser = (*Conn)(nil)

// Open opens the printer a usb:// URI names.
func Open(ctx context.Context, u *url.URL) (*Conn, error) {
	return openWith(ctx, defaultLib, u)
}

func openWith(ctx context.Context, l lib, u *url.URL) (*Conn, error) {
	sel, err := parseSelector(u)
	if err != nil {
		return nil, &drivers.Error{Op: "open", Code: drivers.BadConfig, Feed: drivers.BeforeFeed, Err: err}
	}
	c := &Conn{lib: l, sel: sel}
	if err := c.connect(ctx, sel); err != nil {
		return nil, err
	}
	c.pin = selector{vid: gousb.ID(c.info.VendorID), pid: gousb.ID(c.info.ProductID), serial: c.info.Serial}
	return c, nil
}

// connect finds a device matching sel and claims its printer interface.
// The caller holds c.mu or owns c exclusively.
func (c *Conn) connect(ctx context.Context, sel selector) error {
	if err := ctx.Err(); err != nil {
		return &drivers.Error{Op: "open", Code: drivers.Timeout, Feed: drivers.BeforeFeed, Err: fmt.Errorf("usb: open %s: %w", sel, err)}
	}
	if ok, why := c.lib.hasBus(); !ok {
		return &drivers.Error{Op: "open", Code: drivers.Offline, Feed: drivers.BeforeFeed, Err: fmt.Errorf("usb: open %s: %s", sel, why)}
	}
	lc, err := c.lib.newContext()
	if err != nil {
		return &drivers.Error{Op: "open", Code: drivers.Offline, Feed: drivers.BeforeFeed, Err: fmt.Errorf("usb: open %s: %w", sel, err)}
	}
	descs, err := lc.devices()
	if err != nil && len(descs) == 0 {
		lc.close()
		return &drivers.Error{Op: "open", Code: drivers.Offline, Feed: drivers.BeforeFeed, Err: fmt.Errorf("usb: open %s: listing devices: %w", sel, err)}
	}
	var problems []string
	denied := 0 // matching printers this process may not open
	printers := 0
	for _, desc := range descs {
		ps, ok := findPrinterSetting(desc)
		if !ok {
			continue
		}
		printers++
		if !sel.auto && (desc.Vendor != sel.vid || desc.Product != sel.pid) {
			continue
		}
		dev, err := lc.open(desc)
		if err != nil {
			problems = append(problems, openProblem(desc, err))
			if errors.Is(err, gousb.ErrorAccess) {
				denied++
			}
			continue
		}
		m, p, s := dev.strings()
		info := describe(desc, ps, m, p, s)
		if !sel.matches(info) {
			dev.close()
			continue
		}
		if err := dev.setAutoDetach(true); err != nil {
			slog.Debug("usb: auto-detach not supported", "device", info.URI, "err", err)
		}
		intf, err := dev.claim(ps.cfg, ps.intf, ps.alt, ps.out, ps.in)
		if err != nil {
			dev.close()
			problems = append(problems, claimProblem(desc, err))
			if errors.Is(err, gousb.ErrorAccess) {
				denied++
			}
			continue
		}
		c.ctx, c.dev, c.intf, c.set, c.info = lc, dev, intf, ps, info
		c.pending, c.gone = nil, false
		slog.Debug("usb: opened printer", "uri", info.URI, "bus", desc.Bus, "address", desc.Address, "bidirectional", ps.bidi)
		return nil
	}
	lc.close()
	msg := fmt.Sprintf("usb: no printer-class device matching %s (%d USB devices, %d printers on the bus)", sel, len(descs), printers)
	if len(problems) > 0 {
		msg += ": " + strings.Join(problems, "; ")
	}
	// Permission denied on every printer that could be ours needs a udev
	// rule, not a wait; any other problem may pass.
	code := drivers.Offline
	if denied > 0 && denied == len(problems) {
		code = drivers.BadConfig
	}
	return &drivers.Error{Op: "open", Code: code, Feed: drivers.BeforeFeed, Err: errors.New(msg)}
}

func devPath(desc *gousb.DeviceDesc) string {
	return fmt.Sprintf("/dev/bus/usb/%03d/%03d", desc.Bus, desc.Address)
}

func openProblem(desc *gousb.DeviceDesc, err error) string {
	if errors.Is(err, gousb.ErrorAccess) {
		return fmt.Sprintf("permission denied on %s (%04x:%04x): add a udev rule such as "+
			`SUBSYSTEM=="usb", ATTRS{idVendor}=="%04x", ATTRS{idProduct}=="%04x", MODE="0660", GROUP="lp"`+
			" to /etc/udev/rules.d/60-printerd.rules and add the daemon's user to group lp",
			devPath(desc), uint16(desc.Vendor), uint16(desc.Product), uint16(desc.Vendor), uint16(desc.Product))
	}
	return fmt.Sprintf("cannot open %s (%04x:%04x): %v", devPath(desc), uint16(desc.Vendor), uint16(desc.Product), err)
}

func claimProblem(desc *gousb.DeviceDesc, err error) string {
	if errors.Is(err, gousb.ErrorBusy) {
		return fmt.Sprintf("%s (%04x:%04x) is claimed by another program or kernel driver (another printerd, CUPS, or usblp not detached)",
			devPath(desc), uint16(desc.Vendor), uint16(desc.Product))
	}
	if errors.Is(err, gousb.ErrorAccess) {
		return openProblem(desc, err)
	}
	return fmt.Sprintf("cannot claim the printer interface of %s: %v", devPath(desc), err)
}

// teardown releases the device. The caller holds c.mu.
func (c *Conn) teardown() {
	if c.intf != nil {
		c.intf.close()
		c.intf = nil
	}
	if c.dev != nil {
		c.dev.close()
		c.dev = nil
	}
	if c.ctx != nil {
		c.ctx.close()
		c.ctx = nil
	}
	c.pending = nil
}

// Info describes the device the Conn opened.
func (c *Conn) Info() Device {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// USBIDs returns the vendor and product ids of the device the Conn opened,
// for a registry's detectors (drivers.Detector).
func (c *Conn) USBIDs() (vendor, product uint16) {
	info := c.Info()
	return info.VendorID, info.ProductID
}

// usable returns an error if no device is open. The caller holds c.mu.
func (c *Conn) usable(op string) error {
	switch {
	case c.closed:
		return &drivers.Error{Op: op, Code: drivers.Offline, Err: errors.New("usb: link closed")}
	case c.gone || c.intf == nil:
		return &drivers.Error{Op: op, Code: drivers.Offline, Err: fmt.Errorf("usb: printer %s is gone (unplugged?); reset re-finds it", c.pin)}
	}
	return nil
}

// Write sends all of p on the bulk OUT endpoint.
func (c *Conn) Write(ctx context.Context, p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable("write"); err != nil {
		return 0, err
	}
	total := 0
	for total < len(p) {
		if err := ctx.Err(); err != nil {
			return total, c.mapErr(ctx, "write", err)
		}
		end := min(len(p), total+writeChunk)
		n, err := c.intf.write(ctx, p[total:end])
		total += n
		if err != nil {
			return total, c.mapErr(ctx, "write", err)
		}
		if n == 0 {
			return total, &drivers.Error{Op: "write", Code: drivers.Protocol, Err: errors.New("usb: bulk OUT accepted 0 bytes")}
		}
	}
	return total, nil
}

// Read returns the bytes of the next bulk IN transfer (or what is left of
// the last one). It returns when bytes arrive, the link fails or ctx ends.
func (c *Conn) Read(ctx context.Context, p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.usable("read"); err != nil {
		return 0, err
	}
	// Read whole packets so that a device sending more than len(p) does
	// not overflow the transfer; keep the rest for the next Read.
	mp := max(c.intf.maxPacket(), 1)
	buf := p
	if len(p)%mp != 0 {
		buf = make([]byte, (len(p)/mp+1)*mp)
	}
	for {
		n, err := c.intf.read(ctx, buf)
		if n > 0 {
			k := copy(p, buf[:n])
			if k < n {
				c.pending = append([]byte(nil), buf[k:n]...)
			}
			return k, nil
		}
		if err != nil {
			return 0, c.mapErr(ctx, "read", err)
		}
		// A zero-length packet: wait for real data unless ctx is done.
		if err := ctx.Err(); err != nil {
			return 0, c.mapErr(ctx, "read", err)
		}
	}
}

// mapErr turns a libusb or context error into a *drivers.Error and marks
// the device gone when it was unplugged. The caller holds c.mu.
func (c *Conn) mapErr(ctx context.Context, op string, err error) error {
	switch {
	case isGone(err):
		c.gone = true
		return &drivers.Error{Op: op, Code: drivers.Offline, Err: fmt.Errorf("usb: %s %s: device disconnected: %w", op, c.pin, err)}
	case ctx.Err() != nil || errors.Is(err, gousb.ErrorTimeout) || errors.Is(err, gousb.TransferTimedOut):
		cause := err
		if ctx.Err() != nil {
			cause = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return &drivers.Error{Op: op, Code: drivers.Timeout, Err: fmt.Errorf("usb: %s %s: no answer in time: %w", op, c.pin, cause)}
	case errors.Is(err, gousb.ErrorPipe) || errors.Is(err, gousb.TransferStall):
		return &drivers.Error{Op: op, Code: drivers.Protocol, Err: fmt.Errorf("usb: %s %s: endpoint stalled: %w", op, c.pin, err)}
	case errors.Is(err, gousb.ErrorOverflow) || errors.Is(err, gousb.TransferOverflow):
		return &drivers.Error{Op: op, Code: drivers.Protocol, Err: fmt.Errorf("usb: %s %s: device sent more than asked: %w", op, c.pin, err)}
	}
	return &drivers.Error{Op: op, Code: drivers.Unknown, Err: fmt.Errorf("usb: %s %s: %w", op, c.pin, err)}
}

func isGone(err error) bool {
	return errors.Is(err, gousb.ErrorNoDevice) || errors.Is(err, gousb.TransferNoDevice)
}

// controlTimeout bounds a control transfer by ctx.
func controlTimeout(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	d := defaultControlTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl))
	}
	if d < time.Millisecond {
		return 0, context.DeadlineExceeded
	}
	return d, nil
}

// control runs a class request on the printer interface. The caller holds c.mu.
func (c *Conn) control(ctx context.Context, op string, rType, req uint8, idx uint16, data []byte) (int, error) {
	if err := c.usable(op); err != nil {
		return 0, err
	}
	to, err := controlTimeout(ctx)
	if err != nil {
		return 0, c.mapErr(ctx, op, err)
	}
	n, err := c.dev.control(to, rType, req, 0, idx, data)
	if err != nil {
		return n, c.mapErr(ctx, op, err)
	}
	return n, nil
}

// DeviceID reads the printer's IEEE 1284 device id (GET_DEVICE_ID), e.g.
// "MFG:Evolis;CMD:...;MDL:Primacy 2;".
func (c *Conn) DeviceID(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	buf := make([]byte, 1024)
	idx := uint16(c.set.intf)<<8 | uint16(c.set.alt)
	n, err := c.control(ctx, "device-id", rtClassIn, reqGetDeviceID, idx, buf)
	if err != nil {
		return "", err
	}
	id, err := ParseDeviceID(buf[:n])
	if err != nil {
		return "", &drivers.Error{Op: "device-id", Code: drivers.Protocol, Err: err}
	}
	return id, nil
}

// PortStatus reads the printer's port status byte (GET_PORT_STATUS); see
// PortNotError, PortSelected and PortPaperEmpty.
func (c *Conn) PortStatus(ctx context.Context) (byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b [1]byte
	n, err := c.control(ctx, "port-status", rtClassIn, reqGetPortStatus, uint16(c.set.intf), b[:])
	if err != nil {
		return 0, err
	}
	if n != 1 {
		return 0, &drivers.Error{Op: "port-status", Code: drivers.Protocol, Err: fmt.Errorf("usb: GET_PORT_STATUS returned %d bytes, want 1", n)}
	}
	return b[0], nil
}

// SoftReset sends the printer class SOFT_RESET request: the printer flushes
// its buffers and resets its interface without losing its configuration.
func (c *Conn) SoftReset(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.softReset(ctx)
}

func (c *Conn) softReset(ctx context.Context) error {
	_, err := c.control(ctx, "soft-reset", rtClassOut, reqSoftReset, uint16(c.set.intf), nil)
	if err == nil {
		c.pending = nil
	}
	return err
}

// Reset recovers the link: a SOFT_RESET, or, if the printer was unplugged,
// finding the same printer again (by vendor, product and serial) and
// reopening it, polling until ctx ends.
func (c *Conn) Reset(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return &drivers.Error{Op: "reset", Code: drivers.Offline, Err: errors.New("usb: link closed")}
	}
	if !c.gone && c.intf != nil {
		err := c.softReset(ctx)
		if err == nil {
			return nil
		}
		if !c.gone {
			// The printer is there but refused or ignored SOFT_RESET
			// (stalled, hung): release and reopen it once.
			slog.Info("usb: soft reset failed, reopening the printer", "uri", c.info.URI, "err", err)
			c.teardown()
			cerr := c.connect(ctx, c.pin)
			if cerr == nil {
				return nil
			}
			c.gone = true
			return &drivers.Error{Op: "reset", Code: drivers.CodeOf(cerr), Err: fmt.Errorf("usb: reset %s: soft reset failed (%v) and reopening failed: %w", c.pin, err, cerr)}
		}
	}
	// The device went away: re-find it.
	c.teardown()
	c.gone = true
	var last error
	for {
		err := c.connect(ctx, c.pin)
		if err == nil {
			slog.Info("usb: printer found again", "uri", c.info.URI)
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return &drivers.Error{Op: "reset", Code: drivers.Offline, Err: fmt.Errorf("usb: printer %s did not come back before the deadline: %w", c.pin, last)}
		case <-time.After(reconnectPoll):
		}
	}
}

// Close releases the interface and the device. It is safe to call twice.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.teardown()
	return nil
}

// ParseDeviceID decodes a GET_DEVICE_ID reply: a 2-byte length that
// includes itself, big-endian as the class specification says, or
// little-endian as some printers send it, then the IEEE 1284 id string.
func ParseDeviceID(b []byte) (string, error) {
	if len(b) < 2 {
		return "", fmt.Errorf("usb: device id reply is %d bytes, want at least the 2-byte length", len(b))
	}
	be := int(b[0])<<8 | int(b[1])
	le := int(b[1])<<8 | int(b[0])
	var n int
	switch {
	case be >= 2 && be <= len(b):
		n = be
	case le >= 2 && le <= len(b):
		n = le
	case be < 2:
		return "", fmt.Errorf("usb: device id length %d is below 2 (the length includes itself)", be)
	default:
		// A length larger than what arrived: take what arrived (the
		// host's buffer was shorter than the id).
		n = len(b)
	}
	id := strings.TrimRight(string(b[2:n]), "\x00")
	return id, nil
}
