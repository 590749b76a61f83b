package sim

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The mechanical time of each stage, scaled by Speed: a one-sided YMCKO
// card takes 16 s at Speed 1, nothing at Speed 0.
func TestStageTimes(t *testing.T) {
	card := []Stage{StageFeed, StageY, StageM, StageC, StageK, StageO, StageEject}
	for _, tc := range []struct {
		speed float64
		want  time.Duration
	}{{0, 0}, {1, 16 * time.Second}, {0.5, 8 * time.Second}, {2, 32 * time.Second}} {
		d := New(Options{Speed: tc.speed})
		var total time.Duration
		for _, s := range card {
			total += d.delayFor(s)
		}
		if total != tc.want {
			t.Errorf("speed %v: a YMCKO card takes %v, want %v", tc.speed, total, tc.want)
		}
	}
}

// At a real printer's pace the reply to a panel waits for the panel before
// it to print, and a cancelled context still stops Serve at once.
func TestServeStopsDuringMechanicalDelay(t *testing.T) {
	d := New(Options{Speed: 100}) // minutes a panel
	l := d.Connect()
	defer l.Close()
	ctx := context.Background()
	stream := join(cmd("Ss"), download("k", "2", make([]byte, monoPanelBytes)), cmd("Se"))
	if _, err := l.Write(ctx, stream); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	got := readReply(t, rctx, l) // Ss answers at once
	if got != "OK" {
		t.Fatalf("Ss reply %q", got)
	}
	if _, err := l.Read(rctx, make([]byte, 8)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the feed answered before its mechanical time: %v", err)
	}
	done := make(chan struct{})
	go func() { l.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop a device busy feeding")
	}
}
