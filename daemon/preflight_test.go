package daemon

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStateLock: a second daemon on the same state directory does not
// start; its error names the first one's PID and the lock file. Once the
// first stops, the directory is free again.
func TestStateLock(t *testing.T) {
	f := newFixture(t)
	first := start(t, f.options(), nil)
	o := f.options()
	second, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = second.Start(ctx)
	if err == nil {
		t.Fatal("a second daemon started on the same state directory")
	}
	pid := strconv.Itoa(os.Getpid())
	for _, want := range []string{"pid " + pid, filepath.Join(f.cfg.State, LockFile)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("second daemon: %v; want it to name %q", err, want)
		}
	}
	if second.Embedded() {
		t.Error("the second daemon started its nats-server before finding the lock")
	}
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	start(t, f.options(), nil) // free again
}

// TestListenFirst: an HTTP address already in use, or a printer URI with
// an unknown parameter, fails Start before NATS or any printer starts.
func TestListenFirst(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string
	}{
		{"http in use", func(c *Config) { c.HTTP = busy.Addr().String() }, "config: http:"},
		{"nats-listen in use", func(c *Config) { c.NATSListen = busy.Addr().String() }, "config: nats-listen:"},
		{"unknown URI parameter", func(c *Config) { c.Printers = []string{"testsim://p0?name=p0&sped=0"} }, `unknown parameter "sped"`},
	} {
		o := f.options()
		tc.set(&o.Config)
		d, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		opened := f.opens.Load()
		err = d.Start(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Start = %v; want %q", tc.name, err, tc.want)
		}
		if d.nc != nil || d.ns != nil {
			t.Errorf("%s: NATS started before the check", tc.name)
		}
		if f.opens.Load() != opened {
			t.Errorf("%s: a printer was opened before the check", tc.name)
		}
	}
}
