package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/playback"
	"github.com/cityid/printerd/drivers/sim"
)

func TestDiagDevice(t *testing.T) {
	ctx := context.Background()
	// Each diag --device command opens its own simulated printer (a fresh
	// sim.Registry per command, as a separate process would).
	dev := "--device=sim://diag-cli?speed=0"
	tests := []struct {
		args []string
		code int
		out  string // part of stdout or stderr
	}{
		{[]string{"diag", "status", dev, "--json"}, exitOK, `"ready":true`},
		{[]string{"diag", "info", dev}, exitOK, "model: Evolis Primacy"},
		{[]string{"diag", "counters", dev, "--json"}, exitOK, `"printed":0`},
		{[]string{"diag", "test-card", "ko", dev}, exitOK, "printed: true"},
		{[]string{"diag", "raw", "Rtp", dev}, exitOK, "reply: Evolis Primacy"},
		{[]string{"diag", "clean", dev}, exitOK, "ok: true"},
		{[]string{"diag", "reset", dev}, exitOK, "ok: true"},
		{[]string{"diag", "pause", dev}, exitFail, "use --nats"},
		{[]string{"diag", "raw", dev}, exitUsage, "raw needs a command"},
		{[]string{"diag", "dance", dev}, exitUsage, "unknown verb"},
		{[]string{"diag"}, exitUsage, "name a verb"},
		{[]string{"diag", "status", "--device=nope://x"}, exitFail, "unknown scheme"},
		{[]string{"diag", "status", "--device=sim://diag-faulty?faults=cover-open", "--json"}, exitOK, `"problems":["cover-open"]`},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(ctx, tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.out) {
			t.Errorf("%v: exit %d, output %q %q; want exit %d and %q", tt.args[1:], code, out, errOut, tt.code, tt.out)
		}
	}
}

// TestDiagRecord records an exchange with --record and replays it against
// the driver with drivers/playback.
func TestDiagRecord(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "info.txt")
	if code, _, errOut := runCLI(ctx, "diag", "info", "--device=sim://diag-rec", "--record", file); code != exitOK {
		t.Fatalf("diag info --record: %s", errOut)
	}
	pb, err := playback.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	info, err := evolis.New(pb, evolis.Options{}).Info(ctx)
	if err != nil || info.Model != "Evolis Primacy" {
		t.Fatalf("replayed Info = %+v, %v", info, err)
	}
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDiagList(t *testing.T) {
	code, out, errOut := runCLI(context.Background(), "diag", "list", "--json")
	if code != exitOK {
		t.Fatalf("diag list: exit %d: %s", code, errOut)
	}
	var l struct {
		Printers []listed `json:"printers"`
		Notes    []string `json:"notes"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("diag list --json: %v: %q", err, out)
	}
	for _, p := range l.Printers {
		if p.URI == "" || (p.Kind != "usb" && p.Kind != "serial") {
			t.Errorf("listed %+v", p)
		}
	}
}

// TestDiagNATS runs the remote path (--nats) against the real services: a
// daemon in-process with its embedded NATS and a simulated printer, at a
// site other than the default.
func TestDiagNATS(t *testing.T) {
	f := newE2EFixture(t)
	sims := &sim.Registry{} // this daemon's simulated printer
	cfg := f.config("sim://diagdesk?speed=0&out=" + f.out)
	cfg.Site = "north"
	p := startInProcess(t, cfg, daemonDeps{sims: sims})
	ctx := context.Background()
	url := "--nats=" + p.d.NATSURL()
	tech := f.as("tech-1")
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"diag", "info", "diagdesk", url, tech, "--site=north", "--json"}, exitOK, `"model":"Evolis Primacy"`},
		{[]string{"diag", "status", "diagdesk", url, tech, "--site=north"}, exitOK, "ready: true"},
		{[]string{"diag", "raw", "diagdesk", "Rco;p", url, tech, "--site=north"}, exitOK, "reply: 0"},
		{[]string{"diag", "counters", "diagdesk", url, tech, "--site=north", "--json"}, exitOK, `"printed":0`},
		{[]string{"diag", "test-card", "diagdesk", "ko", url, tech, "--site=north"}, exitOK, "printed: true"},
		{[]string{"diag", "pause", "diagdesk", url, tech, "--site=north"}, exitOK, "paused: true"},
		{[]string{"diag", "resume", "diagdesk", url, tech, "--site=north"}, exitOK, "paused: false"},
		{[]string{"diag", "status", "nobody", url, tech, "--site=north", "--timeout=2s"}, exitFail, "is a daemon running"},
		{[]string{"diag", "status", "diagdesk", url, tech, "--timeout=2s"}, exitFail, "is a daemon running"}, // site local: nobody
		{[]string{"diag", "status", url, tech}, exitUsage, "name the PRINTER"},
		{[]string{"diag", "status", "a.b", url}, exitUsage, "subject tokens"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(ctx, tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.out) {
			t.Errorf("%v: exit %d, output %q %q; want exit %d and %q", tt.args[1:], code, out, errOut, tt.code, tt.out)
		}
	}
	if n := sims.Lookup("diagdesk").Counters().Printed; n != 1 {
		t.Errorf("the simulator printed %d cards, want the one test card", n)
	}
}
