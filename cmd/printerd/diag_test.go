package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/cityid/printerd/drivers/diag"
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

// TestDiagNATS runs the remote path against a real NATS server and a
// responder that serves the subject with diag.Handle on a simulated printer,
// as the daemon's service does.
func TestDiagNATS(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	link := sim.New(sim.Options{Model: "Evolis Primacy"}).Connect()
	defer link.Close()
	p := evolis.New(link, evolis.Options{})
	sub, err := nc.Subscribe("printerd.diag.north.desk.*", func(m *nats.Msg) {
		verb := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		m.Respond(diag.Handle(context.Background(), p, verb, m.Data))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()

	ctx := context.Background()
	url := "--nats=" + ns.ClientURL()
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"diag", "info", "desk", url, "--site=north", "--json"}, exitOK, `"model":"Evolis Primacy"`},
		{[]string{"diag", "raw", "desk", "Rco;p", url, "--site=north"}, exitOK, "reply: 0"},
		{[]string{"diag", "status", "desk", url, "--site=north"}, exitOK, "ready: true"},
		{[]string{"diag", "pause", "desk", url, "--site=north"}, exitFail, "use --nats"}, // this responder has no queue
		{[]string{"diag", "status", "nobody", url, "--site=north", "--timeout=1s"}, exitFail, "is a daemon running"},
		{[]string{"diag", "status", url}, exitUsage, "name the PRINTER"},
		{[]string{"diag", "status", "a.b", url}, exitUsage, "subject tokens"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(ctx, tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.out) {
			t.Errorf("%v: exit %d, output %q %q; want exit %d and %q", tt.args[1:], code, out, errOut, tt.code, tt.out)
		}
	}
}

// TestDiagDaemon sends diagnostics to a running daemon (in-process, with
// its embedded NATS and a simulated printer) through the queue's service.
func TestDiagDaemon(t *testing.T) {
	f := newE2EFixture(t)
	p := startInProcess(t, f.config("sim://diagdesk?speed=0&out="+f.out), daemonDeps{})
	ctx := context.Background()
	url := "--nats=" + p.d.natsURL
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"diag", "info", "diagdesk", url, "--json"}, exitOK, `"model":"Evolis Primacy"`},
		{[]string{"diag", "status", "diagdesk", url}, exitOK, "ready: true"},
		{[]string{"diag", "raw", "diagdesk", "Rco;p", url}, exitOK, "reply: 0"},
		{[]string{"diag", "counters", "diagdesk", url, "--json"}, exitOK, `"printed":0`},
		{[]string{"diag", "test-card", "diagdesk", "ko", url}, exitOK, "printed: true"},
		{[]string{"diag", "pause", "diagdesk", url}, exitOK, ""},
		{[]string{"diag", "resume", "diagdesk", url}, exitOK, ""},
		{[]string{"diag", "status", "nosuch", url, "--timeout=2s"}, exitFail, ""},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(ctx, tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.out) {
			t.Errorf("%v: exit %d, output %q %q; want exit %d and %q", tt.args[1:], code, out, errOut, tt.code, tt.out)
		}
	}
}
