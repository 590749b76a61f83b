package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityid/printerd/drivers/sim"
)

// TestEncode writes the stream of a job's card, feeds it to the simulated
// printer as a print filter would (no replies read), and scans the signed
// barcode back from the card the simulator printed.
func TestEncode(t *testing.T) {
	ctx := context.Background()
	keys := t.TempDir()
	if code, _, errOut := runCLI(ctx, "keys", "new", "--kind", "issuer", "--out", keys); code != exitOK {
		t.Fatalf("keys new: %s", errOut)
	}
	jobFile := filepath.Join("..", "..", "testdata", "jobs", "issue-polish.json")
	tests := []struct {
		args  []string
		back  bool
		ymc   bool
		check string
	}{
		{[]string{"--compress"}, true, true, ""},
		{[]string{"--ribbon", "ko"}, true, false, ""},
	}
	for _, tt := range tests {
		args := append([]string{"encode", jobFile, "--issuer-key", filepath.Join(keys, "issuer.key")}, tt.args...)
		code, stream, errOut := runCLI(ctx, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", tt.args, code, errOut)
		}
		if !strings.HasPrefix(stream, "\x1bPem;2\r\x1bPr;") {
			t.Fatalf("%v: stream starts %q", tt.args, stream[:min(len(stream), 20)])
		}
		out := t.TempDir()
		dev := sim.New(sim.Options{Out: out})
		rw := struct {
			io.Reader
			io.Writer
		}{bytes.NewReader([]byte(stream)), io.Discard}
		if err := dev.Serve(ctx, rw); err != nil {
			t.Fatalf("%v: simulator: %v", tt.args, err)
		}
		cards := dev.Cards()
		if len(cards) != 1 || (cards[0].Back != nil) != tt.back || (cards[0].FrontPanels.Y != nil) != tt.ymc {
			t.Fatalf("%v: simulator printed %d cards", tt.args, len(cards))
		}
		// The signed barcode is on one side: one of the images must verify.
		var outs []string
		ok := false
		for _, f := range cards[0].Files {
			code, vout, verr := runCLI(ctx, "verify", "--image", f, "--keys", filepath.Join(keys, "issuer.pub"))
			ok = ok || code == exitOK
			outs = append(outs, filepath.Base(f)+": "+vout+verr)
		}
		if !ok {
			t.Fatalf("%v: no printed side carries a barcode that verifies: %v", tt.args, outs)
		}
	}
	// Bad usage.
	for _, args := range [][]string{
		{"encode"},
		{"encode", jobFile},
		{"encode", jobFile, "--issuer-key", "k", "--levels", "48"},
		{"encode", jobFile, "--issuer-key", "k", "--ribbon", "rgb"},
	} {
		if code, _, _ := runCLI(ctx, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestEncodeMagicard writes a Magicard job for each line layout, feeds it
// to the simulated Magicard as a print filter would, and scans the signed
// barcode back from the card it composited.
func TestEncodeMagicard(t *testing.T) {
	ctx := context.Background()
	keys := t.TempDir()
	if code, _, errOut := runCLI(ctx, "keys", "new", "--kind", "issuer", "--out", keys); code != exitOK {
		t.Fatalf("keys new: %s", errOut)
	}
	jobFile := filepath.Join("..", "..", "testdata", "jobs", "issue-polish.json")
	for _, layout := range []string{"kee", "kge"} {
		code, stream, errOut := runCLI(ctx, "encode", jobFile, "--issuer-key", filepath.Join(keys, "issuer.key"), "--lang", "magicard", "--layout", layout)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", layout, code, errOut)
		}
		if !strings.HasPrefix(stream, strings.Repeat("\x05", 64)+"\x01,NOC1,") {
			t.Fatalf("%s: stream starts %q", layout, stream[:min(len(stream), 80)])
		}
		out := t.TempDir()
		dev := sim.NewMagicard(sim.MagicardOptions{Layout: layout, Options: sim.Options{Out: out}})
		if err := dev.Serve(ctx, struct {
			io.Reader
			io.Writer
		}{bytes.NewReader([]byte(stream)), io.Discard}); err != nil {
			t.Fatalf("%s: simulator: %v", layout, err)
		}
		dev.Wait()
		cards := dev.Cards()
		if len(cards) != 1 || cards[0].Back == nil {
			t.Fatalf("%s: simulator printed %d cards (state %+v)", layout, len(cards), dev.State())
		}
		ok := false
		for _, f := range cards[0].Files {
			code, _, _ := runCLI(ctx, "verify", "--image", f, "--keys", filepath.Join(keys, "issuer.pub"))
			ok = ok || code == exitOK
		}
		if !ok {
			t.Fatalf("%s: no printed side verifies: %v", layout, cards[0].Files)
		}
	}
	if code, _, _ := runCLI(ctx, "encode", jobFile, "--issuer-key", filepath.Join(keys, "issuer.key"), "--lang", "optima"); code != exitUsage {
		t.Fatalf("--lang optima: exit %d, want %d", code, exitUsage)
	}
}
