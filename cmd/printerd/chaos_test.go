package main

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// envInt reads an integer from the environment, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestChaosKills publishes jobs to a daemon with two simulated printers,
// each its own process on TCP, SIGKILLs the daemon at random moments and
// restarts it, then checks that every job ends printed exactly once or
// held with a known reason, none at printing, and that releasing every
// held job adds no second card. The short run (60 jobs, 4 kills) is part
// of the normal tests; PRINTERD_CHAOS_JOBS=300 PRINTERD_CHAOS_KILLS=12
// runs the long one (figures in BENCHMARKS.md).
func TestChaosKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon and simulator binaries; run without -short")
	}
	nJobs, nKills := envInt("PRINTERD_CHAOS_JOBS", 60), envInt("PRINTERD_CHAOS_KILLS", 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(60+nJobs)*time.Second)
	defer cancel()
	bin := buildPrinterd(t)
	f := newE2EFixture(t)
	const speed = 0.02 // about 0.3 s a card: kills land mid-card often
	sims := []*simProc{startSimProc(ctx, t, bin, f.dir+"/", speed)}
	os.MkdirAll(f.dir+"/s2", 0o755)
	sims = append(sims, startSimProc(ctx, t, bin, f.dir+"/s2", speed))
	port := freePort(t)
	args := f.procArgs(port, "", "tcp://"+sims[0].addr, "tcp://"+sims[1].addr)
	natsURL := "nats://127.0.0.1:" + itoa(port)
	run := 1
	p := startProc(t, bin, f.dir+"/run1.log", args...)
	if err := p.waitLog(ctx, `"printerd: running"`); err != nil {
		t.Fatal(err)
	}
	_, js := f.connectRetry(t, natsURL, "inspector")
	_, ids := f.publishSamples(ctx, t, js, nJobs)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for k := 0; k < nKills; k++ {
		time.Sleep(time.Duration(500+rng.IntN(2000)) * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.exitCode(ctx)
		run++
		p = startProc(t, bin, f.dir+"/run"+itoa(run)+".log", args...)
		if err := p.waitLog(ctx, `"printerd: running"`); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(p.logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("last daemon log:\n%s", b)
		}
	}()
	entries := settleJobs(ctx, t, js, ids)
	held, heldSpoiled := 0, 0
	for id, e := range entries {
		if e["state"] == "held" {
			held++
			if e["spoiled"] == true {
				heldSpoiled++
			}
			if r, _ := e["reason"].(string); !knownReason(r) {
				t.Errorf("job %s held with reason %q: want what the printer showed", id, r)
			}
		}
	}
	printedBefore := 0
	for _, s := range sims {
		printedBefore += s.commands("Se")
	}
	released := releaseHeld(ctx, t, f, natsURL, entries)
	entries = settleJobs(ctx, t, js, ids)
	for id, e := range entries {
		if e["state"] != "printed" {
			t.Errorf("job %s after release: %v", id, e)
		}
	}
	time.Sleep(time.Second)
	sigterm(p)
	p.exitCode(ctx)
	cards, rejected := 0, 0
	for _, s := range sims {
		c, r := s.stop(ctx, t)
		cards += c
		rejected += r
	}
	dup := cards - len(ids)
	t.Logf("chaos: %d jobs, %d kills, %d held (%d with a spoiled card in the reject tray), %d released, %d cards printed, %d rejected, %d duplicates after release",
		len(ids), nKills, held, heldSpoiled, released, cards, rejected, dup)
	if dup != 0 {
		t.Errorf("%d cards printed for %d jobs: %d duplicates", cards, len(ids), dup)
	}
}
