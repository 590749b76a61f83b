package systemd

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// notifySocket listens where $NOTIFY_SOCKET points, as systemd does, and
// returns the datagrams it receives.
func notifySocket(t *testing.T) <-chan string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	ch := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return ch
}

func recv(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("systemd: no notification within 5s")
	}
	return ""
}

func TestNotify(t *testing.T) {
	tests := []struct {
		name string
		send func() (bool, error)
		want string
	}{
		{"ready", func() (bool, error) { return Ready("") }, "READY=1"},
		{"ready with status", func() (bool, error) { return Ready("serving 2 printers") }, "READY=1\nSTATUS=serving 2 printers"},
		{"status on one line", func() (bool, error) { return Ready("a\nb") }, "READY=1\nSTATUS=a b"},
		{"stopping", func() (bool, error) { return Stopping("draining") }, "STOPPING=1\nSTATUS=draining"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := notifySocket(t)
			ok, err := tt.send()
			if err != nil || !ok {
				t.Fatalf("send: ok=%v err=%v", ok, err)
			}
			if got := recv(t, ch); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNotifyWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	if ok, err := Ready("x"); ok || err != nil {
		t.Errorf("Ready without NOTIFY_SOCKET: ok=%v err=%v, want false, nil", ok, err)
	}
	t.Setenv("WATCHDOG_USEC", "")
	done := make(chan error, 1)
	go func() { done <- Watchdog(context.Background(), func() bool { return true }) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watchdog without WATCHDOG_USEC: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Watchdog without WATCHDOG_USEC did not return at once")
	}
}

// TestWatchdog checks that pings come at about half of WATCHDOG_USEC while
// healthy, stop while unhealthy, and that Watchdog returns with ctx.
func TestWatchdog(t *testing.T) {
	ch := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "200000") // 200 ms: pings every 100 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	var healthy atomic.Bool
	healthy.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watchdog(ctx, healthy.Load) }()

	start := time.Now()
	for i := 0; i < 3; i++ {
		if m := recv(t, ch); m != "WATCHDOG=1" {
			t.Fatalf("ping %d: got %q, want WATCHDOG=1", i, m)
		}
	}
	if el := time.Since(start); el < 150*time.Millisecond || el > 2*time.Second {
		t.Errorf("3 pings took %v, want about 200 ms (one at once, then every 100 ms)", el)
	}
	healthy.Store(false)
	time.Sleep(150 * time.Millisecond) // a ping already on its way may arrive
	for len(ch) > 0 {
		<-ch
	}
	select {
	case m := <-ch:
		t.Fatalf("unhealthy, yet systemd got %q", m)
	case <-time.After(400 * time.Millisecond):
	}
	healthy.Store(true)
	if m := recv(t, ch); !strings.HasPrefix(m, "WATCHDOG=1") {
		t.Fatalf("healthy again: got %q", m)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watchdog: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Watchdog did not return after ctx was cancelled")
	}
}

func TestWatchdogOtherPID(t *testing.T) {
	notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "1") // the watchdog is for another process
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := Watchdog(ctx, func() bool { return true }); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > time.Second {
		t.Error("Watchdog for another PID did not return at once")
	}
}
