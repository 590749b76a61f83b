package sim

import (
	"context"
	"errors"
	"image/png"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
)

// A sim:// URI opened through a device registry: options and faults from
// the URI, card images named by the job label, the device reachable by
// Lookup.
func TestSimURI(t *testing.T) {
	out := t.TempDir()
	name := "desk-" + t.Name()
	sims := &Registry{}
	r := &drivers.Registry{}
	if err := r.RegisterTransport("sim", sims.Transport); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(r.RegisterLanguage("evolis", evolis.Language), r.RegisterParams("sim", Params...), r.RegisterParams("evolis", evolis.Params...)); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"out": {out}, "speed": {"0"}, "faults": {"jam=y@2"}, "timeout": {"1s"}}
	uri := "sim://" + name + "?" + q.Encode()
	ctx := context.Background()
	op, err := r.Open(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	d := sims.Lookup(name)
	if d == nil {
		t.Fatalf("Lookup(%q) = nil after open", name)
	}
	card := testCard("7d0c6a52-job", false)
	if err := op.Print(ctx, card); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, "7d0c6a52-job-front.png"))
	if err != nil {
		t.Fatalf("card image: %v", err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1016 || b.Dy() != 648 {
		t.Fatalf("card image is %v, want 1016x648", b)
	}
	if c := rgbAt(img, 700, 530); c != [3]uint8{0, 0, 0} {
		t.Fatalf("K bar in the file = %v, want black", c)
	}
	if _, err := os.Stat(filepath.Join(out, "7d0c6a52-job-back.png")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("back image for a one-sided card: %v", err)
	}
	// The URI's fault: the second card jams after feed.
	err = op.Print(ctx, testCard("second", false))
	if !errors.Is(err, drivers.CardJam) || !drivers.Fed(err) {
		t.Fatalf("second card: %v, want a card jam after feed", err)
	}
	op.Close()

	// Reopening the name reaches the same device, card still inside.
	op2, err := r.Open(ctx, "sim://"+name)
	if err != nil {
		t.Fatal(err)
	}
	defer op2.Close()
	if st, err := op2.Status(ctx); err != nil || !showsCardInside(st) {
		t.Fatalf("status after reopen: %+v, %v; want the jammed card inside", st, err)
	}
	if sims.Lookup(name) != d || len(d.Cards()) != 1 {
		t.Fatalf("reopen made another device or lost cards")
	}
	for _, uri := range []string{"sim://x?faults=melt", "sim://x?speed=fast", "sim:"} {
		if _, err := r.Open(ctx, uri); !errors.Is(err, drivers.BadConfig) || drivers.Fed(err) {
			t.Errorf("open %s: %v; want bad-config before feed", uri, err)
		}
	}
	o, err := OptionsFromURI(&url.URL{Scheme: "sim", Host: "y", RawQuery: "ribbon=ko&rotate=90&speed=0.5"})
	if err != nil || o.Ribbon != "ko" || o.Rotation != 90 || o.Speed != 0.5 || o.Name != "y" {
		t.Fatalf("options from URI: %+v, %v", o, err)
	}
	for _, q := range []string{"ribbon=rgb", "rotate=180", "speed=-1"} {
		if _, err := OptionsFromURI(&url.URL{Scheme: "sim", Host: "y", RawQuery: q}); err == nil {
			t.Errorf("URI parameters %q accepted", q)
		}
	}
}

// The in-process link honours ctx, reports a dropped link as end of stream
// and comes back with Reset.
func TestLinkDropAndReset(t *testing.T) {
	d := New(Options{})
	l := d.Connect()
	defer l.Close()
	ctx := context.Background()
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := l.Read(short, make([]byte, 8)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read with nothing to read: %v, want deadline exceeded", err)
	}
	if err := d.SetFault("drop=feed"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write(ctx, cmd("Si")); err != nil {
		t.Fatal(err)
	}
	rctx, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if _, err := l.Read(rctx, make([]byte, 8)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after drop: %v, want EOF", err)
	}
	if !d.State().CardInside {
		t.Fatal("no card inside after a drop at the feed")
	}
	if err := l.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if d.State().CardInside || d.Counters().Rejected != 1 {
		t.Fatalf("after reset: %+v %+v; want the card rejected", d.State(), d.Counters())
	}
	if _, err := l.Write(ctx, cmd("Rtp")); err != nil {
		t.Fatal(err)
	}
	if got := readReply(t, rctx, l); got != "Evolis Primacy" {
		t.Fatalf("reply after reset %q", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := l.Write(ctx, cmd("Rtp")); err == nil {
		t.Fatal("write after close succeeded")
	}
}

// Serve ends when its context ends, even mid-command.
func TestServeStopsOnContext(t *testing.T) {
	d := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- d.Serve(ctx, struct {
			io.Reader
			io.Writer
		}{pr, io.Discard})
	}()
	pw.Write([]byte("\x1bDb;k;2;abc"))
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Serve: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	pw.Close()
}

// Each Registry has its own devices: the same sim:// name opened on two
// registries reaches two devices, and Register, Lookup and Unregister act
// on one registry only.
func TestRegistriesApart(t *testing.T) {
	ctx := context.Background()
	var a, b Registry
	u := &url.URL{Scheme: "sim", Host: "desk", RawQuery: "speed=0"}
	la, err := a.Transport(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	lb, err := b.Transport(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	da, db := a.Lookup("desk"), b.Lookup("desk")
	if da == nil || db == nil || da == db {
		t.Fatalf("devices %p and %p: want two devices, one per registry", da, db)
	}
	if la.(*Link).Device() != da || lb.(*Link).Device() != db {
		t.Fatal("a link reaches another registry's device")
	}
	own := New(Options{Name: "own"})
	if err := a.Register("own", own); err != nil {
		t.Fatal(err)
	}
	if err := a.Register("own", New(Options{})); err == nil {
		t.Error("a name registered twice in one registry")
	}
	if b.Lookup("own") != nil {
		t.Error("a device registered in one registry is found in another")
	}
	a.Unregister("desk")
	if a.Lookup("desk") != nil || b.Lookup("desk") != db {
		t.Error("Unregister reached past its registry")
	}
	l2, err := a.Transport(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if d := a.Lookup("desk"); d == nil || d == da {
		t.Error("open after Unregister did not make a new device")
	}
}
