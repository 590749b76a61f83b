package usbip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Function is the printer behind the USB device: the printer class
// requests. *sim.Device implements it.
type Function interface {
	// DeviceID is the IEEE 1284 device id, without the length bytes.
	DeviceID() string
	// PortStatus is the GET_PORT_STATUS byte.
	PortStatus() byte
	// SoftReset is what the printer does on SOFT_RESET.
	SoftReset()
}

// ErrAttached is returned when a second host tries to attach a Device that
// is already attached.
var ErrAttached = errors.New("usbip: device already attached")

// pendingIn is a bulk IN request waiting for bytes.
type pendingIn struct {
	seq    uint32
	length int
}

// Device is a USB printer-class device served over USB/IP. Bulk OUT data
// goes to Stream; bytes written to Stream answer bulk IN requests.
type Device struct {
	cfg Config
	fn  Function

	mu         sync.Mutex
	cond       *sync.Cond // signals out data and close
	out        []byte     // bulk OUT bytes not yet read from Stream
	in         []byte     // Stream bytes not yet sent on bulk IN
	pending    []pendingIn
	conn       io.ReadWriteCloser // the attached host, or nil
	plugged    bool
	plugC      chan struct{} // closed and replaced when plugged changes
	closed     bool
	unplugEOF  bool // Stream.Read owes one io.EOF for an unplug
	configured uint8
	stats      Stats
}

// Stats counts what a Device did, for tests and benchmarks.
type Stats struct {
	Controls, BulkOut, BulkIn, Unlinks int
	OutBytes, InBytes                  int64
}

// New makes a plugged-in device presenting cfg, with fn answering the
// printer class requests.
func New(cfg Config, fn Function) *Device {
	d := &Device{cfg: cfg.withDefaults(), fn: fn, plugged: true, plugC: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	return d
}

// Config returns the device's configuration with defaults filled in.
func (d *Device) Config() Config { return d.cfg }

// Stats returns the counters so far.
func (d *Device) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Stream is the printer's side of the bulk endpoints: Read returns what
// the host sent on bulk OUT, Write queues bytes for bulk IN. Pass it to
// sim.Device.Serve. Read returns io.EOF once when the device is unplugged
// (the connection is gone, as for a printer whose cable is pulled) and for
// good once it is closed: serve it again after an io.EOF until Closed.
func (d *Device) Stream() io.ReadWriter { return stream{d} }

type stream struct{ d *Device }

// Read blocks until bulk OUT bytes arrive or the Device is closed (io.EOF).
func (s stream) Read(p []byte) (int, error) {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.out) == 0 && !d.closed && !d.unplugEOF {
		d.cond.Wait()
	}
	if d.unplugEOF || len(d.out) == 0 {
		// Closed, or unplugged: the printer's side of the connection ends
		// once; the next Read waits for the replugged host.
		d.unplugEOF = false
		return 0, io.EOF
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	if len(d.out) == 0 {
		d.out = nil
	}
	return n, nil
}

// Write queues p for the host's bulk IN requests.
func (s stream) Write(p []byte) (int, error) {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, io.ErrClosedPipe
	}
	d.in = append(d.in, p...)
	d.dispatchLocked()
	return len(p), nil
}

// dispatchLocked answers pending bulk IN requests with queued bytes.
func (d *Device) dispatchLocked() {
	for len(d.pending) > 0 && len(d.in) > 0 && d.conn != nil {
		r := d.pending[0]
		d.pending = d.pending[1:]
		n := min(r.length, len(d.in))
		msg := encodeRetSubmit(r.seq, statusOK, n, d.in[:n])
		d.in = d.in[n:]
		d.stats.BulkIn++
		d.stats.InBytes += int64(n)
		if _, err := d.conn.Write(msg); err != nil {
			slog.Debug("usbip: writing bulk IN reply", "err", err)
			d.conn.Close()
			return
		}
	}
}

// Unplug disconnects the device from its host, as pulling the cable does:
// the host sees it go away. It stays unplugged until Plug.
func (d *Device) Unplug() {
	d.mu.Lock()
	c := d.conn
	if d.plugged {
		d.plugged = false
		d.unplugEOF = true
		d.cond.Broadcast()
		close(d.plugC)
		d.plugC = make(chan struct{})
	}
	d.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// Plug plugs the device in again: AttachVHCI attaches it anew, Serve lets a
// host import it. Bytes in flight at unplug time are dropped.
func (d *Device) Plug() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.plugged {
		d.plugged = true
		d.out, d.in = nil, nil
		close(d.plugC)
		d.plugC = make(chan struct{})
	}
}

// Plugged reports whether the device is plugged in.
func (d *Device) Plugged() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.plugged
}

// Closed reports whether Close was called.
func (d *Device) Closed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// Attached reports whether a host has the device attached now.
func (d *Device) Attached() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conn != nil
}

// waitPlugged blocks until the device is plugged in or ctx ends.
func (d *Device) waitPlugged(ctx context.Context) error {
	for {
		d.mu.Lock()
		ok, ch, closed := d.plugged, d.plugC, d.closed
		d.mu.Unlock()
		if closed {
			return io.EOF
		}
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close unplugs the device for good: Stream reads return io.EOF. It is
// safe to call twice.
func (d *Device) Close() error {
	d.Unplug()
	d.mu.Lock()
	d.closed = true
	d.cond.Broadcast()
	d.mu.Unlock()
	return nil
}

// ServeConn runs the URB exchange with a host that has attached the device
// over conn (after an OP_REQ_IMPORT, or a vhci attach), until the host goes
// away, Unplug, Close or ctx. It returns nil when the host or Unplug ended
// it.
func (d *Device) ServeConn(ctx context.Context, conn io.ReadWriteCloser) error {
	d.mu.Lock()
	switch {
	case d.closed || !d.plugged:
		d.mu.Unlock()
		conn.Close()
		return errors.New("usbip: device unplugged")
	case d.conn != nil:
		d.mu.Unlock()
		conn.Close()
		return ErrAttached
	}
	d.conn = conn
	d.configured = 0
	d.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	err := d.serveURBs(conn)
	d.mu.Lock()
	if d.conn == conn {
		d.conn = nil
	}
	d.pending = nil
	unplugged := !d.plugged
	d.mu.Unlock()
	conn.Close()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case unplugged, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil
	}
	return err
}

func (d *Device) serveURBs(conn io.ReadWriter) error {
	for {
		h, data, err := readCommand(conn)
		if err != nil {
			return err
		}
		if h.command == cmdUnlink {
			d.unlink(conn, h)
			continue
		}
		if err := d.submit(conn, h, data); err != nil {
			return err
		}
	}
}

// reply writes msg under the device lock, so that it cannot interleave
// with a bulk IN reply written by Stream.
func (d *Device) reply(conn io.Writer, msg []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := conn.Write(msg)
	return err
}

func (d *Device) unlink(conn io.Writer, h header) {
	d.mu.Lock()
	status := int32(statusOK) // already answered
	for i, p := range d.pending {
		if p.seq == h.unlinkSeq {
			d.pending = append(d.pending[:i:i], d.pending[i+1:]...)
			status = statusECONNRESET
			break
		}
	}
	d.stats.Unlinks++
	_, err := conn.Write(encodeRetUnlink(h.seqnum, status))
	d.mu.Unlock()
	if err != nil {
		slog.Debug("usbip: writing RET_UNLINK", "err", err)
	}
}

func (d *Device) submit(conn io.Writer, h header, data []byte) error {
	switch {
	case h.ep == 0:
		status, reply := d.control(decodeSetup(h.setup), data)
		n := len(reply)
		if h.direction == dirIn {
			n = min(n, int(h.length))
			reply = reply[:n]
		} else {
			n, reply = len(data), nil
		}
		if status != statusOK {
			n, reply = 0, nil
		}
		return d.reply(conn, encodeRetSubmit(h.seqnum, status, n, reply))
	case h.ep == epOut && h.direction == dirOut:
		d.mu.Lock()
		d.out = append(d.out, data...)
		d.stats.BulkOut++
		d.stats.OutBytes += int64(len(data))
		d.cond.Broadcast()
		_, err := conn.Write(encodeRetSubmit(h.seqnum, statusOK, len(data), nil))
		d.mu.Unlock()
		return err
	case h.ep == epIn && h.direction == dirIn && !d.cfg.Unidirectional:
		d.mu.Lock()
		d.pending = append(d.pending, pendingIn{seq: h.seqnum, length: int(h.length)})
		d.dispatchLocked()
		d.mu.Unlock()
		return nil
	}
	return d.reply(conn, encodeRetSubmit(h.seqnum, statusEPIPE, 0, nil))
}

// Standard and class requests (bmRequestType, bRequest).
const (
	reqGetStatus        = 0
	reqClearFeature     = 1
	reqSetFeature       = 3
	reqSetAddress       = 5
	reqGetDescriptor    = 6
	reqGetConfiguration = 8
	reqSetConfiguration = 9
	reqGetInterface     = 10
	reqSetInterface     = 11

	reqGetDeviceID   = 0
	reqGetPortStatus = 1
	reqSoftReset     = 2
)

// control answers a request on endpoint 0: a status and, for IN requests,
// the data.
func (d *Device) control(s setup, data []byte) (int32, []byte) {
	d.mu.Lock()
	d.stats.Controls++
	d.mu.Unlock()
	switch {
	case s.requestType == 0x80 && s.request == reqGetDescriptor:
		var b []byte
		switch s.value >> 8 {
		case dtDevice:
			b = d.cfg.deviceDescriptor()
		case dtConfig:
			b = d.cfg.configDescriptor()
		case dtString:
			b = d.cfg.stringDescriptor(uint8(s.value))
		}
		if b == nil {
			return statusEPIPE, nil
		}
		return statusOK, b
	case s.requestType == 0x00 && s.request == reqSetConfiguration:
		if s.value > configValue {
			return statusEPIPE, nil
		}
		d.mu.Lock()
		d.configured = uint8(s.value)
		d.mu.Unlock()
		return statusOK, nil
	case s.requestType == 0x80 && s.request == reqGetConfiguration:
		d.mu.Lock()
		defer d.mu.Unlock()
		return statusOK, []byte{d.configured}
	case s.request == reqGetStatus && s.requestType&0x80 != 0 && s.requestType&0x60 == 0:
		if s.requestType&0x1f == 0 {
			return statusOK, []byte{1, 0} // self-powered
		}
		return statusOK, []byte{0, 0}
	case s.requestType == 0x01 && s.request == reqSetInterface:
		if s.index != 0 || s.value != 0 {
			return statusEPIPE, nil
		}
		return statusOK, nil
	case s.requestType == 0x81 && s.request == reqGetInterface:
		return statusOK, []byte{0}
	case s.requestType&0x60 == 0 && (s.request == reqClearFeature || s.request == reqSetFeature || s.request == reqSetAddress):
		return statusOK, nil
	case s.requestType == 0xA1 && s.request == reqGetDeviceID:
		id := d.fn.DeviceID()
		n := len(id) + 2
		return statusOK, append([]byte{byte(n >> 8), byte(n)}, id...)
	case s.requestType == 0xA1 && s.request == reqGetPortStatus:
		return statusOK, []byte{d.fn.PortStatus()}
	case s.requestType == 0x21 && s.request == reqSoftReset:
		d.fn.SoftReset()
		d.mu.Lock()
		d.out, d.in = nil, nil
		d.mu.Unlock()
		return statusOK, nil
	}
	slog.Debug("usbip: stalling unsupported control request", "request", fmt.Sprintf("%#02x/%d", s.requestType, s.request))
	return statusEPIPE, nil
}

// replugDelay is how long Run leaves the device unplugged after the
// printer dropped its link.
const replugDelay = 500 * time.Millisecond

// Run serves the printer on Stream (serve is e.g. sim.Device.Serve) until
// ctx ends or d is closed, starting serve again after each unplug. A serve
// that fails is a printer that dropped its link (an injected fault): the
// device is unplugged and plugged in again shortly after, as a printer that
// resets itself does.
func (d *Device) Run(ctx context.Context, serve func(context.Context, io.ReadWriter) error) error {
	for ctx.Err() == nil && !d.Closed() {
		err := serve(ctx, d.Stream())
		if err == nil || ctx.Err() != nil || d.Closed() {
			continue
		}
		slog.Info("usbip: printer dropped its link: unplugging and plugging in again", "err", err)
		d.Unplug()
		select {
		case <-ctx.Done():
		case <-time.After(replugDelay):
		}
		d.Plug()
	}
	return ctx.Err()
}
