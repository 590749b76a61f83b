package usbip

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"
)

// fakeFn is a Function with fixed answers.
type fakeFn struct {
	id     string
	status byte
	resets atomic.Int32
}

func (f *fakeFn) DeviceID() string { return f.id }
func (f *fakeFn) PortStatus() byte { return f.status }
func (f *fakeFn) SoftReset()       { f.resets.Add(1) }

// ret is a decoded RET_SUBMIT or RET_UNLINK.
type ret struct {
	command, seq uint32
	status       int32
	actual       int
	data         []byte
}

// host plays the kernel's side of the URB stream over a pipe.
type host struct {
	t    *testing.T
	conn net.Conn
	rets chan ret
	seq  uint32
	done chan error
}

func newHost(t *testing.T, d *Device) *host {
	t.Helper()
	a, b := net.Pipe()
	h := &host{t: t, conn: a, rets: make(chan ret, 64), done: make(chan error, 1)}
	go func() { h.done <- d.ServeConn(context.Background(), b) }()
	go func() {
		for {
			var hb [headerLen]byte
			if _, err := io.ReadFull(a, hb[:]); err != nil {
				close(h.rets)
				return
			}
			be := binary.BigEndian
			r := ret{command: be.Uint32(hb[0:]), seq: be.Uint32(hb[4:]), status: int32(be.Uint32(hb[20:])), actual: int(be.Uint32(hb[24:]))}
			if r.command == retSubmit && r.status == 0 && r.actual > 0 && h.isIn(r.seq) {
				r.data = make([]byte, r.actual)
				if _, err := io.ReadFull(a, r.data); err != nil {
					close(h.rets)
					return
				}
			}
			h.rets <- r
		}
	}()
	t.Cleanup(func() { a.Close() })
	return h
}

// inSeqs records which seqnums were IN submits (the reader needs it to
// know whether data follows). Odd seqnums are IN by construction.
func (h *host) isIn(seq uint32) bool { return seq%2 == 1 }

func (h *host) next(in bool) uint32 {
	h.seq++
	if (h.seq%2 == 1) != in {
		h.seq++
	}
	return h.seq
}

func (h *host) send(b []byte) {
	h.t.Helper()
	if _, err := h.conn.Write(b); err != nil {
		h.t.Fatalf("host write: %v", err)
	}
}

func (h *host) wait() ret {
	h.t.Helper()
	select {
	case r, ok := <-h.rets:
		if !ok {
			h.t.Fatal("device closed the connection")
		}
		return r
	case <-time.After(5 * time.Second):
		h.t.Fatal("no reply from the device")
	}
	return ret{}
}

func (h *host) control(rt, req uint8, val, idx, length uint16) ret {
	h.t.Helper()
	in := rt&0x80 != 0
	seq := h.next(in)
	dir := uint32(dirOut)
	if in {
		dir = dirIn
	}
	h.send(encodeSubmit(seq, 0x10002, dir, 0, int(length), setup{rt, req, val, idx, length}.bytes(), nil))
	r := h.wait()
	if r.seq != seq || r.command != retSubmit {
		h.t.Fatalf("reply %+v, want RET_SUBMIT for seq %d", r, seq)
	}
	return r
}

func decodeString(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 2; i+1 < len(b); i += 2 {
		u = append(u, binary.LittleEndian.Uint16(b[i:]))
	}
	return string(utf16.Decode(u))
}

func TestControlRequests(t *testing.T) {
	fn := &fakeFn{id: "MFG:Evolis;MDL:Primacy 2;CMD:EVOLIS;CLS:PRINTER;", status: 0x18}
	d := New(Config{VendorID: 0x0f49, ProductID: 0x1001, Serial: "ABC123", Product: "Primacy ✓"}, fn)
	h := newHost(t, d)
	tests := []struct {
		name       string
		rt, req    uint8
		val, idx   uint16
		length     uint16
		wantStatus int32
		check      func(t *testing.T, b []byte)
	}{
		{"device descriptor", 0x80, 6, 0x0100, 0, 64, 0, func(t *testing.T, b []byte) {
			if len(b) != 18 || b[1] != 1 || binary.LittleEndian.Uint16(b[8:]) != 0x0f49 || binary.LittleEndian.Uint16(b[10:]) != 0x1001 || b[17] != 1 {
				t.Fatalf("device descriptor % x", b)
			}
		}},
		{"device descriptor, first 8 bytes", 0x80, 6, 0x0100, 0, 8, 0, func(t *testing.T, b []byte) {
			if len(b) != 8 || b[7] != 64 {
				t.Fatalf("got % x, want 8 bytes with bMaxPacketSize0 64", b)
			}
		}},
		{"config header", 0x80, 6, 0x0200, 0, 9, 0, func(t *testing.T, b []byte) {
			if len(b) != 9 || binary.LittleEndian.Uint16(b[2:]) != 32 {
				t.Fatalf("config header % x, want wTotalLength 32", b)
			}
		}},
		{"full config", 0x80, 6, 0x0200, 0, 255, 0, func(t *testing.T, b []byte) {
			if len(b) != 32 {
				t.Fatalf("config is %d bytes, want 32", len(b))
			}
			if intf := b[9:18]; intf[1] != 4 || intf[4] != 2 || intf[5] != 7 || intf[6] != 1 || intf[7] != 2 {
				t.Fatalf("interface descriptor % x, want 2 endpoints, class 7/1/2", intf)
			}
			if b[18+2] != 0x01 || b[25+2] != 0x82 || b[18+3] != 2 || b[25+3] != 2 {
				t.Fatalf("endpoints % x, want bulk 0x01 and 0x82", b[18:])
			}
		}},
		{"languages", 0x80, 6, 0x0300, 0, 255, 0, func(t *testing.T, b []byte) {
			if !bytes.Equal(b, []byte{4, 3, 0x09, 0x04}) {
				t.Fatalf("language list % x", b)
			}
		}},
		{"manufacturer", 0x80, 6, 0x0301, 0x0409, 255, 0, func(t *testing.T, b []byte) {
			if s := decodeString(b); s != "Evolis" || int(b[0]) != len(b) {
				t.Fatalf("manufacturer %q (% x)", s, b)
			}
		}},
		{"product (non-ASCII)", 0x80, 6, 0x0302, 0x0409, 255, 0, func(t *testing.T, b []byte) {
			if s := decodeString(b); s != "Primacy ✓" {
				t.Fatalf("product %q", s)
			}
		}},
		{"serial", 0x80, 6, 0x0303, 0x0409, 255, 0, func(t *testing.T, b []byte) {
			if s := decodeString(b); s != "ABC123" {
				t.Fatalf("serial %q", s)
			}
		}},
		{"no string 9", 0x80, 6, 0x0309, 0x0409, 255, statusEPIPE, nil},
		{"device qualifier stalls", 0x80, 6, 0x0600, 0, 10, statusEPIPE, nil},
		{"set configuration", 0x00, 9, 1, 0, 0, 0, nil},
		{"get configuration", 0x80, 8, 0, 0, 1, 0, func(t *testing.T, b []byte) {
			if !bytes.Equal(b, []byte{1}) {
				t.Fatalf("configuration % x, want 1", b)
			}
		}},
		{"get status", 0x80, 0, 0, 0, 2, 0, func(t *testing.T, b []byte) {
			if len(b) != 2 {
				t.Fatalf("status % x", b)
			}
		}},
		{"set interface 0/0", 0x01, 11, 0, 0, 0, 0, nil},
		{"set interface 0/1 stalls", 0x01, 11, 1, 0, 0, statusEPIPE, nil},
		{"clear halt", 0x02, 1, 0, 0x82, 0, 0, nil},
		{"GET_DEVICE_ID", 0xA1, 0, 0, 0, 1023, 0, func(t *testing.T, b []byte) {
			n := int(b[0])<<8 | int(b[1])
			if n != len(b) || string(b[2:]) != fn.id {
				t.Fatalf("device id % x", b)
			}
		}},
		{"GET_DEVICE_ID truncated", 0xA1, 0, 0, 0, 10, 0, func(t *testing.T, b []byte) {
			if len(b) != 10 || int(b[0])<<8|int(b[1]) != len(fn.id)+2 {
				t.Fatalf("truncated device id % x", b)
			}
		}},
		{"GET_PORT_STATUS", 0xA1, 1, 0, 0, 1, 0, func(t *testing.T, b []byte) {
			if !bytes.Equal(b, []byte{0x18}) {
				t.Fatalf("port status % x", b)
			}
		}},
		{"vendor request stalls", 0xC0, 0x42, 0, 0, 4, statusEPIPE, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.control(tt.rt, tt.req, tt.val, tt.idx, tt.length)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d", r.status, tt.wantStatus)
			}
			if tt.check != nil {
				tt.check(t, r.data)
			}
		})
	}
}

func TestSoftReset(t *testing.T) {
	fn := &fakeFn{}
	d := New(Config{}, fn)
	h := newHost(t, d)
	// Bytes queued for IN are dropped by the reset.
	d.Stream().Write([]byte("stale"))
	if r := h.control(0x21, 2, 0, 0, 0); r.status != 0 {
		t.Fatalf("SOFT_RESET status %d", r.status)
	}
	if fn.resets.Load() != 1 {
		t.Fatalf("printer soft resets = %d, want 1", fn.resets.Load())
	}
	seq := h.next(true)
	h.send(encodeSubmit(seq, 0, dirIn, epIn, 512, [8]byte{}, nil))
	d.Stream().Write([]byte("fresh"))
	if r := h.wait(); string(r.data) != "fresh" {
		t.Fatalf("IN after reset = %q, want fresh", r.data)
	}
}

func TestBulk(t *testing.T) {
	d := New(Config{}, &fakeFn{})
	h := newHost(t, d)
	s := d.Stream()

	// OUT: the bytes reach the stream and actual_length is what was taken.
	job := bytes.Repeat([]byte("\x1bSs\r"), 3000)
	seq := h.next(false)
	h.send(encodeSubmit(seq, 0, dirOut, epOut, len(job), [8]byte{}, job))
	if r := h.wait(); r.seq != seq || r.status != 0 || r.actual != len(job) {
		t.Fatalf("OUT reply %+v, want actual_length %d", r, len(job))
	}
	got := make([]byte, len(job))
	if _, err := io.ReadFull(s, got); err != nil || !bytes.Equal(got, job) {
		t.Fatalf("stream read %d bytes, %v", len(got), err)
	}

	// IN stays pending until the printer answers.
	in1 := h.next(true)
	h.send(encodeSubmit(in1, 0, dirIn, epIn, 4, [8]byte{}, nil))
	select {
	case r := <-h.rets:
		t.Fatalf("IN answered before the printer wrote: %+v", r)
	case <-time.After(20 * time.Millisecond):
	}
	// A reply longer than the request is split across requests.
	go s.Write([]byte("OK\rMORE"))
	if r := h.wait(); r.seq != in1 || string(r.data) != "OK\rM" {
		t.Fatalf("first IN %+v %q, want OK\\rM", r, r.data)
	}
	in2 := h.next(true)
	h.send(encodeSubmit(in2, 0, dirIn, epIn, 512, [8]byte{}, nil))
	if r := h.wait(); r.seq != in2 || string(r.data) != "ORE" {
		t.Fatalf("second IN %q, want ORE", r.data)
	}

	// CMD_UNLINK of a pending IN: RET_UNLINK -ECONNRESET, and the URB is
	// never answered; the next IN gets the data.
	in3 := h.next(true)
	h.send(encodeSubmit(in3, 0, dirIn, epIn, 512, [8]byte{}, nil))
	un := h.next(false)
	h.send(encodeUnlink(un, 0, in3))
	if r := h.wait(); r.command != retUnlink || r.seq != un || r.status != statusECONNRESET {
		t.Fatalf("unlink reply %+v, want RET_UNLINK -104", r)
	}
	in4 := h.next(true)
	h.send(encodeSubmit(in4, 0, dirIn, epIn, 512, [8]byte{}, nil))
	go s.Write([]byte("AFTER"))
	if r := h.wait(); r.seq != in4 || string(r.data) != "AFTER" {
		t.Fatalf("IN after unlink %+v %q", r, r.data)
	}
	// Unlinking an answered URB: status 0.
	un2 := h.next(false)
	h.send(encodeUnlink(un2, 0, in4))
	if r := h.wait(); r.command != retUnlink || r.status != 0 {
		t.Fatalf("late unlink %+v, want status 0", r)
	}
	// Unknown endpoint: stall.
	bad := h.next(false)
	h.send(encodeSubmit(bad, 0, dirOut, 5, 1, [8]byte{}, []byte{1}))
	if r := h.wait(); r.status != statusEPIPE {
		t.Fatalf("endpoint 5: %+v, want -EPIPE", r)
	}
	st := d.Stats()
	if st.Unlinks != 2 || st.BulkIn != 3 || st.OutBytes != int64(len(job)) {
		t.Fatalf("stats %+v", st)
	}
}

func TestUnplugPlug(t *testing.T) {
	d := New(Config{}, &fakeFn{})
	h := newHost(t, d)
	seq := h.next(true)
	h.send(encodeSubmit(seq, 0, dirIn, epIn, 512, [8]byte{}, nil))
	time.Sleep(10 * time.Millisecond)
	d.Unplug()
	if err := <-h.done; err != nil {
		t.Fatalf("ServeConn after Unplug: %v, want nil", err)
	}
	if _, ok := <-h.rets; ok {
		t.Fatal("host still gets replies after unplug")
	}
	a, b := net.Pipe()
	defer a.Close()
	if err := d.ServeConn(context.Background(), b); err == nil {
		t.Fatal("an unplugged device was attached")
	}
	d.Plug()
	h2 := newHost(t, d)
	if r := h2.control(0x80, 6, 0x0100, 0, 18); r.status != 0 || len(r.data) != 18 {
		t.Fatalf("after replug: %+v", r)
	}
	// A second host cannot attach while one is.
	x, y := net.Pipe()
	defer x.Close()
	if err := d.ServeConn(context.Background(), y); err != ErrAttached {
		t.Fatalf("second attach: %v, want ErrAttached", err)
	}
}

func TestUnplugEndsStreamOnce(t *testing.T) {
	d := New(Config{}, &fakeFn{})
	s := d.Stream()
	errc := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 8))
		errc <- err
	}()
	d.Unplug()
	if err := <-errc; err != io.EOF {
		t.Fatalf("Read across Unplug: %v, want EOF", err)
	}
	d.Plug()
	h := newHost(t, d)
	seq := h.next(false)
	h.send(encodeSubmit(seq, 0, dirOut, epOut, 2, [8]byte{}, []byte("hi")))
	h.wait()
	b := make([]byte, 8)
	if n, err := s.Read(b); err != nil || string(b[:n]) != "hi" {
		t.Fatalf("Read after replug = %q, %v", b[:n], err)
	}
}

func TestCloseEndsStream(t *testing.T) {
	d := New(Config{}, &fakeFn{})
	errc := make(chan error, 1)
	go func() {
		_, err := d.Stream().Read(make([]byte, 8))
		errc <- err
	}()
	d.Close()
	d.Close()
	if err := <-errc; err != io.EOF {
		t.Fatalf("Read after Close: %v, want EOF", err)
	}
}

func TestBadCommands(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{"unknown command", func() []byte { b := encodeUnlink(1, 0, 0); b[3] = 9; return b }()},
		{"huge length", func() []byte {
			b := encodeSubmit(1, 0, dirIn, 2, 0, [8]byte{}, nil)
			binary.BigEndian.PutUint32(b[24:], 0x7fffffff)
			return b
		}()},
		{"bad direction", func() []byte {
			b := encodeSubmit(1, 0, dirIn, 2, 0, [8]byte{}, nil)
			b[15] = 7
			return b
		}()},
		{"truncated OUT data", encodeSubmit(1, 0, dirOut, 1, 100, [8]byte{}, []byte("short"))},
		{"isochronous", func() []byte {
			b := encodeSubmit(1, 0, dirIn, 2, 0, [8]byte{}, nil)
			binary.BigEndian.PutUint32(b[32:], 4)
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readCommand(bytes.NewReader(tt.b))
			if err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func FuzzReadCommand(f *testing.F) {
	f.Add(encodeSubmit(1, 0, dirOut, 1, 3, [8]byte{}, []byte("abc")))
	f.Add(encodeSubmit(2, 0, dirIn, 0, 18, setup{0x80, 6, 0x100, 0, 18}.bytes(), nil))
	f.Add(encodeUnlink(3, 0, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, data, err := readCommand(bytes.NewReader(b))
		if err == nil && h.command == cmdSubmit && h.direction == dirOut && len(data) != int(h.length) {
			t.Fatalf("OUT data %d bytes, header says %d", len(data), h.length)
		}
	})
}

// FuzzDevice feeds arbitrary bytes to a served device: it must answer or
// drop the connection, never panic or hang.
func FuzzDevice(f *testing.F) {
	f.Add(encodeSubmit(2, 0, dirIn, 0, 18, setup{0x80, 6, 0x100, 0, 18}.bytes(), nil))
	f.Add(append(encodeSubmit(1, 0, dirIn, 2, 8, [8]byte{}, nil), encodeUnlink(2, 0, 1)...))
	f.Add(encodeSubmit(2, 0, dirIn, 0, 255, setup{0xA1, 0, 0, 0, 255}.bytes(), nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := New(Config{}, &fakeFn{id: "MFG:X;"})
		rw := &sink{r: bytes.NewReader(b)}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		d.ServeConn(ctx, rw)
	})
}

type sink struct {
	r *bytes.Reader
	w bytes.Buffer
}

func (s *sink) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *sink) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *sink) Close() error                { return nil }

func TestRunRestartsServe(t *testing.T) {
	d := New(Config{}, &fakeFn{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := make(chan int, 10)
	n := 0
	done := make(chan error, 1)
	go func() {
		done <- d.Run(ctx, func(ctx context.Context, rw io.ReadWriter) error {
			n++
			calls <- n
			if n == 1 {
				return io.ErrClosedPipe // the printer dropped its link
			}
			_, err := rw.Read(make([]byte, 1)) // until unplug or close
			if err == io.EOF {
				return nil
			}
			return err
		})
	}()
	<-calls
	<-calls // started again after the drop (unplugged and plugged in again)
	if !d.Plugged() {
		t.Fatal("device not plugged in again after the drop")
	}
	d.Unplug()
	if got := <-calls; got != 3 {
		t.Fatalf("serve call %d after unplug, want 3", got)
	}
	d.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
}
