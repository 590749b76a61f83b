package usb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/gousb"

	"github.com/cityid/printerd/drivers"
)

const testID = "MFG:Evolis;CMD:EPL;MDL:Primacy 2;CLS:PRINTER;DES:Evolis Primacy 2;"

func beID(s string) []byte {
	n := len(s) + 2
	return append([]byte{byte(n >> 8), byte(n)}, s...)
}

func leID(s string) []byte {
	n := len(s) + 2
	return append([]byte{byte(n), byte(n >> 8)}, s...)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("url %q: %v", s, err)
	}
	return u
}

func TestParseSelector(t *testing.T) {
	tests := []struct {
		uri     string
		want    selector
		wantErr string
	}{
		{"usb://auto", selector{auto: true}, ""},
		{"usb://auto?serial=A1", selector{auto: true, serial: "A1"}, ""},
		{"usb://0f49:1234", selector{vid: 0x0f49, pid: 0x1234}, ""},
		{"usb://0f49:1234?serial=ABC%20123", selector{vid: 0x0f49, pid: 0x1234, serial: "ABC 123"}, ""},
		{"usb:0f49:abcd?serial=X", selector{vid: 0x0f49, pid: 0xabcd, serial: "X"}, ""},
		{"usb:///0f49:abcd", selector{vid: 0x0f49, pid: 0xabcd}, ""},
		{"usb://printer", selector{}, "auto or <vid>:<pid>"},
		{"usb://zz49:1234", selector{}, "vendor id"},
		{"usb:0f49:12345", selector{}, "product id"},
		{"serial:///dev/ttyS0", selector{}, "want usb"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			got, err := parseSelector(mustURL(t, tt.uri))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// bus builds a fake bus: a keyboard, two Evolis printers with the same
// vid:pid, a unidirectional printer of another vendor.
func bus() *fakeLib {
	l := &fakeLib{}
	l.add(&fakeDev{desc: otherDesc(0x046d, 0xc31c), prod: "Keyboard"})
	l.add(&fakeDev{desc: printerDesc(0x0f49, 0x1234, protoBi, true), manuf: "Evolis", prod: "Primacy 2", serial: "P2-0001", deviceID: beID(testID)})
	l.add(&fakeDev{desc: printerDesc(0x0f49, 0x1234, protoBi, true), manuf: "Evolis", prod: "Primacy 2", serial: "P2-0002", deviceID: leID(testID)})
	l.add(&fakeDev{desc: printerDesc(0x04b8, 0x0005, protoUni, false), manuf: "Other", serial: "U1"})
	return l
}

func TestOpenMatching(t *testing.T) {
	tests := []struct {
		name       string
		lib        func() *fakeLib
		uri        string
		wantSerial string
		wantBidi   bool
		wantCode   drivers.Code
		wantErr    string
	}{
		{"auto takes the first printer, not the keyboard", bus, "usb://auto", "P2-0001", true, 0, ""},
		{"vid:pid", bus, "usb://04b8:0005", "U1", false, 0, ""},
		{"vid:pid and serial", bus, "usb://0f49:1234?serial=P2-0002", "P2-0002", true, 0, ""},
		{"auto with serial", bus, "usb://auto?serial=P2-0002", "P2-0002", true, 0, ""},
		{"serial not found", bus, "usb://0f49:1234?serial=NOPE", "", false, drivers.Offline, "no printer-class device matching 0f49:1234 serial NOPE (4 USB devices, 3 printers"},
		{"keyboard is no printer", bus, "usb:046d:c31c", "", false, drivers.Offline, "no printer-class device"},
		{"no bus", func() *fakeLib { return &fakeLib{noBus: true} }, "usb://auto", "", false, drivers.Offline, "no USB bus"},
		{"permission denied gives a udev hint", func() *fakeLib {
			l := &fakeLib{}
			l.add(&fakeDev{desc: printerDesc(0x0f49, 0x1234, protoBi, true), openErr: gousb.ErrorAccess})
			return l
		}, "usb://auto", "", false, drivers.BadConfig, `permission denied on /dev/bus/usb/001/001 (0f49:1234): add a udev rule such as SUBSYSTEM=="usb", ATTRS{idVendor}=="0f49"`},
		{"a printer with permission denied and another busy is offline", func() *fakeLib {
			l := &fakeLib{}
			l.add(&fakeDev{desc: printerDesc(0x0f49, 0x1234, protoBi, true), openErr: gousb.ErrorAccess})
			l.add(&fakeDev{desc: printerDesc(0x0f49, 0x1234, protoBi, true), claimErr: gousb.ErrorBusy})
			return l
		}, "usb://auto", "", false, drivers.Offline, "permission denied"},
		{"bad selector", bus, "usb://printer", "", false, drivers.BadConfig, "device must be auto or <vid>:<pid> in hex"},
		{"busy", func() *fakeLib {
			l := &fakeLib{}
			l.add(&fakeDev{desc: printerDesc(0x0f49, 0x1234, protoBi, true), claimErr: gousb.ErrorBusy})
			return l
		}, "usb://auto", "", false, drivers.Offline, "claimed by another program"},
		{"bidirectional setting preferred", func() *fakeLib {
			l := &fakeLib{}
			d := printerDesc(0x0f49, 0x1234, protoUni, true)
			cfg := d.Configs[1]
			bi := cfg.Interfaces[0].AltSettings[0]
			bi.Alternate, bi.Protocol = 1, protoBi
			cfg.Interfaces[0].AltSettings = append(cfg.Interfaces[0].AltSettings, bi)
			l.add(&fakeDev{desc: d, serial: "ALT"})
			return l
		}, "usb://auto", "ALT", true, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := openWith(context.Background(), tt.lib(), mustURL(t, tt.uri))
			if tt.wantErr != "" {
				if err == nil {
					c.Close()
					t.Fatalf("open succeeded, want error containing %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v\nwant it to contain %q", err, tt.wantErr)
				}
				if !errors.Is(err, tt.wantCode) {
					t.Fatalf("err code = %v, want %v", drivers.CodeOf(err), tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer c.Close()
			info := c.Info()
			if info.Serial != tt.wantSerial || info.Bidirectional != tt.wantBidi {
				t.Fatalf("opened %+v, want serial %q bidirectional %v", info, tt.wantSerial, tt.wantBidi)
			}
		})
	}
}

func TestOpenDetachesKernelDriver(t *testing.T) {
	l := bus()
	c, err := openWith(context.Background(), l, mustURL(t, "usb://auto"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := l.devs[1].detached; got != 1 {
		t.Fatalf("claims with auto-detach on = %d, want 1", got)
	}
}

func TestParseDeviceID(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr string
	}{
		{"big-endian", beID(testID), testID, ""},
		{"little-endian", leID(testID), testID, ""},
		{"big-endian, trailing garbage ignored", append(beID("MFG:A;"), "XYZ"...), "MFG:A;", ""},
		{"length beyond what arrived", []byte{0x01, 0x00, 'M', 'F', 'G'}, "MFG", ""},
		{"trailing NULs", beID("MFG:A;\x00\x00"), "MFG:A;", ""},
		{"empty id", []byte{0, 2}, "", ""},
		{"one byte", []byte{0}, "", "at least the 2-byte length"},
		{"length below 2", []byte{0, 1, 'x'}, "", "below 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDeviceID(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzParseDeviceID(f *testing.F) {
	f.Add(beID(testID))
	f.Add(leID(testID))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseDeviceID(b)
		if err == nil && len(id) > len(b) {
			t.Fatalf("id longer than the reply")
		}
	})
}

func TestClassRequests(t *testing.T) {
	for _, serial := range []string{"P2-0001", "P2-0002"} { // big- and little-endian device ids
		t.Run(serial, func(t *testing.T) {
			l := bus()
			c, err := openWith(context.Background(), l, mustURL(t, "usb://0f49:1234?serial="+serial))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			id, err := c.DeviceID(ctx)
			if err != nil || id != testID {
				t.Fatalf("DeviceID = %q, %v; want %q", id, err, testID)
			}
			dev := l.devs[1]
			if serial == "P2-0002" {
				dev = l.devs[2]
			}
			dev.portStatus = PortNotError | PortSelected
			ps, err := c.PortStatus(ctx)
			if err != nil || ps != PortNotError|PortSelected {
				t.Fatalf("PortStatus = %#x, %v", ps, err)
			}
			if err := c.Reset(ctx); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			if dev.softResets != 1 {
				t.Fatalf("soft resets = %d, want 1", dev.softResets)
			}
			want := []fakeControl{{0xA1, 0, 0, 0x0000}, {0xA1, 1, 0, 0}, {0x21, 2, 0, 0}}
			if len(dev.controls) != len(want) {
				t.Fatalf("controls = %v, want %v", dev.controls, want)
			}
			for i := range want {
				if dev.controls[i] != want[i] {
					t.Fatalf("control %d = %+v, want %+v", i, dev.controls[i], want[i])
				}
			}
		})
	}
}

func TestControlHonoursDeadline(t *testing.T) {
	c, err := openWith(context.Background(), bus(), mustURL(t, "usb://auto"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.DeviceID(ctx); !errors.Is(err, drivers.Timeout) {
		t.Fatalf("DeviceID with a done ctx: %v, want a timeout", err)
	}
}

func TestBulk(t *testing.T) {
	l := bus()
	dev := l.devs[1]
	dev.maxWrite = 100 // the device takes at most 100 bytes per transfer
	c, err := openWith(context.Background(), l, mustURL(t, "usb://auto"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	job := bytes.Repeat([]byte("\x1bPps;0\r0123456789"), 1000)
	n, err := c.Write(ctx, job)
	if err != nil || n != len(job) {
		t.Fatalf("Write = %d, %v; want %d", n, err, len(job))
	}
	if !bytes.Equal(dev.out, job) {
		t.Fatalf("device got %d bytes, not the job's %d", len(dev.out), len(job))
	}

	// Short reads: each bulk IN transfer is returned as it comes; a
	// transfer larger than the caller's buffer is kept for the next Read.
	dev.in <- []byte("OK")
	dev.in <- bytes.Repeat([]byte("x"), 700)
	buf := make([]byte, 64)
	if n, err := c.Read(ctx, buf); err != nil || string(buf[:n]) != "OK" {
		t.Fatalf("Read = %q, %v; want OK", buf[:n], err)
	}
	var got []byte
	for len(got) < 700 {
		n, err := c.Read(ctx, buf)
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if len(got) != 700 {
		t.Fatalf("read %d bytes, want 700", len(got))
	}

	// A read time-out is a typed Timeout, and the link works afterwards.
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = c.Read(tctx, buf)
	cancel()
	if !errors.Is(err, drivers.Timeout) {
		t.Fatalf("Read with nothing to read: %v, want Timeout", err)
	}
	dev.in <- []byte("AGAIN")
	if n, err := c.Read(ctx, buf); err != nil || string(buf[:n]) != "AGAIN" {
		t.Fatalf("Read after time-out = %q, %v", buf[:n], err)
	}
}

func TestUnplugAndReconnect(t *testing.T) {
	l := bus()
	dev := l.devs[2]
	c, err := openWith(context.Background(), l, mustURL(t, "usb://auto?serial=P2-0002"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	// Unplug while a read is waiting.
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(ctx, make([]byte, 64))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	l.unplug(dev)
	if err := <-errc; !errors.Is(err, drivers.Offline) || !strings.Contains(err.Error(), "disconnected") {
		t.Fatalf("Read across unplug: %v, want Offline", err)
	}
	if _, err := c.Write(ctx, []byte("x")); !errors.Is(err, drivers.Offline) {
		t.Fatalf("Write after unplug: %v, want Offline", err)
	}

	// Reset gives up at its deadline while the printer is away.
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err = c.Reset(sctx)
	cancel()
	if !errors.Is(err, drivers.Offline) || !strings.Contains(err.Error(), "did not come back") {
		t.Fatalf("Reset with the printer away: %v, want Offline", err)
	}

	// Replug: Reset finds the same printer (by serial) at its new address.
	go func() {
		time.Sleep(30 * time.Millisecond)
		l.replug(dev)
	}()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Reset(rctx); err != nil {
		t.Fatalf("Reset after replug: %v", err)
	}
	if info := c.Info(); info.Serial != "P2-0002" || info.Address != dev.desc.Address {
		t.Fatalf("reopened %+v, want P2-0002 at address %d", info, dev.desc.Address)
	}
	if _, err := c.Write(ctx, []byte("after")); err != nil {
		t.Fatalf("Write after reconnect: %v", err)
	}
	if !bytes.HasSuffix(dev.out, []byte("after")) {
		t.Fatalf("device did not get the write after reconnect")
	}
}

func TestCloseTwice(t *testing.T) {
	c, err := openWith(context.Background(), bus(), mustURL(t, "usb://auto"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Write(context.Background(), []byte("x")); !errors.Is(err, drivers.Offline) {
		t.Fatalf("Write after Close: %v, want Offline", err)
	}
}

func TestList(t *testing.T) {
	t.Run("no bus", func(t *testing.T) {
		devs, err := listWith(context.Background(), &fakeLib{noBus: true})
		if err != nil || len(devs) != 0 {
			t.Fatalf("List = %v, %v; want nothing and no error", devs, err)
		}
	})
	t.Run("printers", func(t *testing.T) {
		l := bus()
		l.add(&fakeDev{desc: printerDesc(0x0f49, 0x9999, protoBi, true), openErr: gousb.ErrorAccess})
		devs, err := listWith(context.Background(), l)
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 4 {
			t.Fatalf("listed %d devices, want the 4 printers: %+v", len(devs), devs)
		}
		if devs[0].URI != "usb://0f49:1234?serial=P2-0001" || devs[0].DeviceID != testID || devs[0].Manufacturer != "Evolis" {
			t.Fatalf("first = %+v", devs[0])
		}
		if devs[1].DeviceID != testID {
			t.Fatalf("little-endian id read as %q", devs[1].DeviceID)
		}
		if devs[2].Bidirectional || devs[2].URI != "usb://04b8:0005?serial=U1" {
			t.Fatalf("third = %+v", devs[2])
		}
		if !strings.Contains(devs[3].Problem, "udev rule") {
			t.Fatalf("unopenable printer's problem = %q, want a udev hint", devs[3].Problem)
		}
	})
}

func TestTypedRestoresLibusbCodes(t *testing.T) {
	// gousb formats claim errors with %v; typed makes errors.Is work again
	// so that a busy interface gets its hint.
	wrapped := fmt.Errorf("failed to claim interface 0 on vid=0f49: %v", gousb.ErrorBusy)
	if err := typed(wrapped); !errors.Is(err, gousb.ErrorBusy) || !strings.Contains(err.Error(), "failed to claim") {
		t.Fatalf("typed(%v) = %v, want it to match ErrorBusy", wrapped, err)
	}
	if msg := claimProblem(&gousb.DeviceDesc{Bus: 1, Address: 2, Vendor: 0x0f49, Product: 0x1234}, typed(wrapped)); !strings.Contains(msg, "usblp not detached") {
		t.Fatalf("claim problem %q has no hint", msg)
	}
	other := errors.New("something else")
	if typed(other) != other {
		t.Fatal("typed changed an unrelated error")
	}
}

func TestResetReopensWhenSoftResetFails(t *testing.T) {
	l := bus()
	dev := l.devs[1]
	dev.softResetErr = gousb.ErrorPipe // a printer that stalls SOFT_RESET
	c, err := openWith(context.Background(), l, mustURL(t, "usb://auto"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opens := l.opens
	if err := c.Reset(context.Background()); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if l.opens != opens+1 {
		t.Fatalf("libusb contexts made by Reset = %d, want 1 (a reopen)", l.opens-opens)
	}
	if _, err := c.Write(context.Background(), []byte("x")); err != nil {
		t.Fatalf("Write after the reopen: %v", err)
	}
}
