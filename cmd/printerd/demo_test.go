package main

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
)

// TestDemo runs printerd demo as a newcomer would and checks what it leaves:
// a front and back PNG per job, as the simulator printed them (card-sized),
// a proof PDF, a summary naming every job printed, and exit status 0.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI(ctx, "demo", "--out", out, "--jobs", "2")
	if code != exitOK {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"[1/2] printed: job ", "[2/2] printed: job "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo shows no progress line %q:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stdout, "  printed  "); n != 2 {
		t.Errorf("summary shows %d printed jobs, want 2:\n%s", n, stdout)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	var fronts, backs, proofs int
	for _, f := range files {
		switch {
		case strings.HasSuffix(f, "-front.png"), strings.HasSuffix(f, "-back.png"):
			r, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(r)
			r.Close()
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if b := img.Bounds(); b.Dx() != card.Width || b.Dy() != card.Height {
				t.Errorf("%s: %dx%d, want %dx%d", f, b.Dx(), b.Dy(), card.Width, card.Height)
			}
			if strings.HasSuffix(f, "-front.png") {
				fronts++
			} else {
				backs++
			}
		case strings.HasSuffix(f, "-proof.pdf"):
			b, _ := os.ReadFile(f)
			if !strings.HasPrefix(string(b), "%PDF-") {
				t.Errorf("%s is not a PDF", f)
			}
			proofs++
		default:
			t.Errorf("unexpected file %s", f)
		}
	}
	if fronts != 2 || backs != 2 || proofs != 2 {
		t.Errorf("%d fronts, %d backs, %d proofs; want 2 each", fronts, backs, proofs)
	}
	if code, _, _ := runCLI(ctx, "demo", "--jobs", "0"); code != exitUsage {
		t.Errorf("demo --jobs 0: exit %d, want 2", code)
	}
}

// TestDemoMagicard runs the demo on a simulated Magicard (sim://
// ?lang=magicard): every job printed through the Magicard driver, a front
// and a back image each.
func TestDemoMagicard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI(ctx, "demo", "--out", out, "--jobs", "2", "--lang", "magicard")
	if code != exitOK {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stdout, "  printed  "); n != 2 {
		t.Errorf("summary shows %d printed jobs, want 2:\n%s", n, stdout)
	}
	for _, side := range []string{"front", "back"} {
		if m, _ := filepath.Glob(filepath.Join(out, "*-"+side+".png")); len(m) != 2 {
			t.Errorf("%d %s images, want 2", len(m), side)
		}
	}
	if code, _, _ := runCLI(ctx, "demo", "--lang", "optima"); code != exitUsage {
		t.Errorf("demo --lang optima: exit %d, want %d", code, exitUsage)
	}
}
