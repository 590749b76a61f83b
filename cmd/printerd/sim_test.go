package main

import (
	"bytes"
	"context"
	"image/color"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
)

// simWriter collects a command's output safely across goroutines.
type simWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *simWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *simWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// startSim runs printerd sim in-process and waits for the line matching re.
func startSim(t *testing.T, re *regexp.Regexp, args ...string) (match string, stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut simWriter
	done := make(chan int, 1)
	go func() { done <- cmdSim(ctx, args, &out, &errOut) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			match = m[1]
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("printerd sim exited %d before it was ready: %s %s", code, out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("printerd sim not ready: %s %s", out.String(), errOut.String())
		}
	}
	return match, func() (int, string) {
		cancel()
		select {
		case code := <-done:
			return code, out.String()
		case <-time.After(10 * time.Second):
			t.Fatal("printerd sim did not stop on cancel")
			return -1, ""
		}
	}
}

// simTestCard is a K-only card: a black bar on white.
func simTestCard(label string) card.Card {
	k := card.NewPlane()
	for y := 100; y < 200; y++ {
		for x := 100; x < 900; x++ {
			k.SetGray(x, y, color.Gray{Y: 255})
		}
	}
	return card.Card{Label: label, Ribbon: card.K, Front: card.Side{K: k}}
}

// printerd sim --listen, driven by the real driver over TCP. A real link
// carries no label, so the card is named by its sequence number.
func TestSimCommandTCP(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startSim(t, regexp.MustCompile(`listening on (tcp://\S+)`), "--listen", "tcp://127.0.0.1:0", "--out", dir)
	reg, err := newRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	op, err := reg.Open(ctx, addr+"?timeout=2s")
	if err != nil {
		t.Fatal(err)
	}
	info, err := op.Info(ctx)
	if err != nil || info.Model != "Evolis Primacy" {
		t.Fatalf("info %+v, %v", info, err)
	}
	if err := op.Print(ctx, simTestCard("tcp-job")); err != nil {
		t.Fatal(err)
	}
	op.Close()
	if _, err := os.Stat(filepath.Join(dir, "card-0001-front.png")); err != nil {
		t.Fatalf("card image: %v", err)
	}
	code, out := stop()
	if code != exitOK || !strings.Contains(out, "stopped after 1 cards printed") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

// printerd sim --pty, driven by the real driver through go.bug.st/serial.
func TestSimCommandPty(t *testing.T) {
	dir := t.TempDir()
	path, stop := startSim(t, regexp.MustCompile(`pty (/dev/\S+)`), "--pty", "--out", dir, "--faults", "jam=k@2")
	reg, err := newRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	op, err := reg.Open(ctx, "serial://"+path+"?baud=115200&timeout=2s")
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if err := op.Print(ctx, simTestCard("pty-job")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "card-0001-front.png")); err != nil {
		t.Fatalf("card image: %v", err)
	}
	err = op.Print(ctx, simTestCard("pty-job-2"))
	if err == nil || !strings.Contains(err.Error(), "card-jam") {
		t.Fatalf("second card: %v, want a card jam", err)
	}
	code, _ := stop()
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
}

func TestSimCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--faults", "melt=1"},
		{"--pty", "--listen", "tcp://127.0.0.1:0"},
		{"--speed", "-1"},
		{"extra"},
	} {
		var out, errOut simWriter
		if code := cmdSim(context.Background(), args, &out, &errOut); code != exitUsage {
			t.Errorf("printerd sim %q: exit %d, want %d (%s)", args, code, exitUsage, errOut.String())
		}
	}
	var out, errOut simWriter
	if code := cmdSim(context.Background(), []string{"--listen", "udp://x"}, &out, &errOut); code != exitFail {
		t.Errorf("bad --listen: exit %d, want %d", code, exitFail)
	}
}
