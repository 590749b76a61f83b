package serial

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	bugst "go.bug.st/serial"

	"github.com/cityid/printerd/drivers"
)

// openPTY returns a pseudo-terminal's master and the serial Port on its
// slave side.
func openPTY(t *testing.T) (*os.File, *Port) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("pty.Open: %v (the tests need /dev/ptmx and devpts)", err)
	}
	name := slave.Name()
	slave.Close()
	t.Cleanup(func() { master.Close() })
	u, _ := url.Parse("serial://" + name + "?baud=115200")
	l, err := Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return master, l.(*Port)
}

func TestPortOverPTY(t *testing.T) {
	master, p := openPTY(t)
	ctx := context.Background()

	// Host to printer, with bytes a terminal would mangle (raw mode).
	msg := []byte("\x1bDb;k;2;\r\n\x00\xff\x03\r")
	if _, err := p.Write(ctx, msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(master, got); err != nil || string(got) != string(msg) {
		t.Fatalf("master read %q, %v; want %q", got, err, msg)
	}

	// Printer to host.
	if _, err := master.Write([]byte("OK\r")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	n, err := p.Read(rctx, buf)
	cancel()
	if err != nil || string(buf[:n]) != "OK\r" {
		t.Fatalf("Read = %q, %v; want OK\\r", buf[:n], err)
	}

	// Silence: Read ends with its context.
	rctx, cancel = context.WithTimeout(ctx, 80*time.Millisecond)
	_, err = p.Read(rctx, buf)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read on a silent line = %v, want deadline exceeded", err)
	}

	// Reset reopens; the port still works.
	if err := p.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	master.Write([]byte("X"))
	rctx, cancel = context.WithTimeout(ctx, 2*time.Second)
	n, err = p.Read(rctx, buf)
	cancel()
	if err != nil || string(buf[:n]) != "X" {
		t.Fatalf("Read after reset = %q, %v", buf[:n], err)
	}

	// Close twice, then operations fail.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write(ctx, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
}

func TestCloseWakesRead(t *testing.T) {
	_, p := openPTY(t)
	done := make(chan error, 1)
	go func() {
		_, err := p.Read(context.Background(), make([]byte, 8))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	p.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Read after Close = %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake a blocked Read")
	}
}

// A port that cannot be opened is a *drivers.Error before feed: BadConfig
// for what only a configuration change fixes (no URI path, a bad baud, no
// such device file, a file that is no serial port).
func TestOpenErrors(t *testing.T) {
	tests := []struct {
		uri, want string
		code      drivers.Code
	}{
		{"serial:///dev/printerd-no-such-tty", "no device /dev/printerd-no-such-tty", drivers.BadConfig},
		{"serial:///dev/ttyUSB0?baud=fast", "baud", drivers.BadConfig},
		{"serial://", "names no device", drivers.BadConfig},
		{"serial:///dev/null", "not a serial port", drivers.BadConfig},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.uri)
		_, err := Open(context.Background(), u)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%s) = %v, want an error containing %q", tt.uri, err, tt.want)
		}
		var de *drivers.Error
		if !errors.As(err, &de) || de.Code != tt.code || de.Feed != drivers.BeforeFeed || de.Op != "open" {
			t.Errorf("Open(%s) = %v (%T): want a *drivers.Error, open, %v, before feed", tt.uri, err, err, tt.code)
		}
	}
}

// explain classifies go.bug.st/serial's open errors; the tests run as a
// user who may read every device, so permission denied is built here.
func TestExplainCodes(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code drivers.Code
		want string
	}{
		{"permission denied", &fs.PathError{Op: "open", Path: "/dev/ttyS0", Err: syscall.EACCES}, drivers.BadConfig, "group dialout"},
		{"no such file (as go.bug.st/serial returns it)", syscall.ENOENT, drivers.BadConfig, "no device"},
		{"busy (the library's zero PortError is PortBusy)", &bugst.PortError{}, drivers.Offline, "busy"},
		{"hardware gone behind the device file", &fs.PathError{Op: "open", Path: "/dev/ttyS0", Err: syscall.ENODEV}, drivers.Offline, "open /dev/ttyS0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := explain("/dev/ttyS0", 115200, tt.err)
			var de *drivers.Error
			if !errors.As(err, &de) || de.Code != tt.code || de.Feed != drivers.BeforeFeed {
				t.Fatalf("explain = %v (%T): want a *drivers.Error, %v, before feed", err, err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.want) || !errors.Is(err, tt.err) {
				t.Errorf("explain = %v: want it to say %q and wrap the cause", err, tt.want)
			}
		})
	}
}

func TestList(t *testing.T) {
	ports, err := List()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if p.Name == "" || !strings.HasPrefix(p.URI(), "serial://") {
			t.Errorf("List returned %+v", p)
		}
	}
}

// TestWriteStuckPrinterHonoursContext: a printer that stops taking bytes
// (nobody reads the pty master, so the kernel's buffers fill) must not hold
// a Write past its context.
func TestWriteStuckPrinterHonoursContext(t *testing.T) {
	_, p := openPTY(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := p.Write(ctx, make([]byte, 4<<20))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Write to a printer that takes nothing = %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Write blocked 10 s past its 300 ms context: a stuck printer would hang the worker")
	}
	// The link is usable again after a reset.
	if err := p.Reset(context.Background()); err != nil {
		t.Fatalf("Reset after an abandoned write: %v", err)
	}
}
