package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// simProc is printerd sim as its own process on TCP, logging every
// command (names only).
type simProc struct {
	*proc
	addr string
}

func startSimProc(ctx context.Context, t testing.TB, bin, dir string, speed float64) *simProc {
	t.Helper()
	p := startProc(t, bin, filepath.Join(dir, "sim.log"), "sim", "--listen", "tcp://127.0.0.1:0", "--verbose",
		"--speed", strconv.FormatFloat(speed, 'f', -1, 64), "--feeder", "100000", "--ribbon-cards", "100000")
	if err := p.waitLog(ctx, "listening on tcp://"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p.logPath)
	m := regexp.MustCompile(`listening on tcp://(\S+)`).FindSubmatch(b)
	return &simProc{proc: p, addr: string(m[1])}
}

// commands counts the commands named name the simulator ran.
func (s *simProc) commands(name string) int {
	b, _ := os.ReadFile(s.logPath)
	return bytes.Count(b, []byte(`"command":"`+name+`"`))
}

// stop ends the simulator and returns its card counters.
func (s *simProc) stop(ctx context.Context, t testing.TB) (printed, rejected int) {
	t.Helper()
	sigterm(s.proc)
	s.exitCode(ctx)
	b, _ := os.ReadFile(s.logPath)
	m := regexp.MustCompile(`stopped after (\d+) cards printed, (\d+) rejected`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("printerd sim did not report its counters:\n%s", b)
	}
	printed, _ = strconv.Atoi(string(m[1]))
	rejected, _ = strconv.Atoi(string(m[2]))
	return printed, rejected
}

// rawEntry reads a job's ledger entry as JSON fields.
func rawEntry(ctx context.Context, js jetstream.JetStream, jobID string) map[string]any {
	kv, err := js.KeyValue(ctx, queue.BucketLedger)
	if err != nil {
		return nil
	}
	e, err := kv.Get(ctx, jobID)
	if err != nil {
		return nil
	}
	var m map[string]any
	json.Unmarshal(e.Value(), &m)
	return m
}

// settle waits until every job's entry is printed or held; it fails the
// test naming the jobs left at printing or claimed.
func settleJobs(ctx context.Context, t testing.TB, js jetstream.JetStream, ids []string) map[string]map[string]any {
	t.Helper()
	for {
		out := map[string]map[string]any{}
		done := true
		for _, id := range ids {
			e := rawEntry(ctx, js, id)
			out[id] = e
			if e == nil || (e["state"] != "printed" && e["state"] != "held") {
				done = false
			}
		}
		if done {
			return out
		}
		select {
		case <-ctx.Done():
			for id, e := range out {
				t.Logf("job %s: %v", id, e)
			}
			t.Fatal("jobs did not settle at printed or held")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// knownReason reports whether a held job's reason says what is known:
// what reconciliation found, not only that the daemon stopped.
func knownReason(r string) bool {
	if r == "" || strings.Contains(r, "stopped while printing") {
		return false
	}
	for _, p := range []string{"spoiled: ", "unknown outcome: ", "not printed: "} {
		if strings.HasPrefix(r, p) {
			return true
		}
	}
	return false
}

// releaseHeld releases every held job (a spoiled one with
// spoiled-destroyed) and returns how many it released.
func releaseHeld(ctx context.Context, t testing.TB, f *e2eFixture, natsURL string, entries map[string]map[string]any) int {
	t.Helper()
	n := 0
	for id, e := range entries {
		if e["state"] != "held" {
			continue
		}
		reason := "printer-fixed"
		if e["spoiled"] == true {
			reason = "spoiled-destroyed"
		}
		args := []string{"jobs", "release", id, "--reason", reason, "--nats", natsURL, f.as("clerk-1")}
		code, out, errs := runCLI(ctx, args...)
		if code != exitOK {
			// A release refused because the card was delivered is right.
			if strings.Contains(errs, "already delivered") {
				continue
			}
			t.Errorf("jobs release %s: exit %d, %s %s", id, code, out, errs)
			continue
		}
		n++
	}
	return n
}

// TestKillAtEachStage kills the built daemon (SIGKILL) at each stage of a
// card, with the simulator as its own process on TCP (it keeps a card
// inside when the host dies), restarts it, and checks that every job
// ends printed exactly once or held with a reason saying what the
// printer showed, no job left at printing, the printer not stuck, and
// that releasing every held job adds no second card.
func TestKillAtEachStage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon and simulator binaries; run without -short")
	}
	bin := buildPrinterd(t)
	const speed = 0.1 // about 1.6 s a YMCKO card
	type trigger func(s *simProc, journal string, base map[string]int) bool
	after := func(name string, n int) trigger {
		return func(s *simProc, _ string, base map[string]int) bool { return s.commands(name) >= base[name]+n }
	}
	stages := []struct {
		name string
		fire trigger
		wait time.Duration // after the trigger, before the kill
		// want is what the first job's entry must be before any release:
		// "printed", "held-spoiled", or "" (either is right).
		want string
	}{
		{name: "before feed", fire: after("Rco", 2), want: "printed"}, // the pre-feed snapshot read: no card fed
		{name: "between panels", fire: after("Db", 2), want: "held-spoiled"},
		{name: "after the eject command", fire: after("Se", 1), want: "printed"},
		{name: "after the printer answered", fire: after("Se", 1), wait: time.Duration(1500*speed)*time.Millisecond + 5*time.Millisecond, want: "printed"},
		{name: "during the ledger write", fire: func(_ *simProc, journal string, base map[string]int) bool {
			b, _ := os.ReadFile(journal)
			return bytes.Count(b, []byte(`"k":"outcome"`)) > 0
		}, want: "printed"},
	}
	for _, st := range stages {
		t.Run(strings.ReplaceAll(st.name, " ", "-"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			f := newE2EFixture(t)
			sp := startSimProc(ctx, t, bin, f.dir, speed)
			port := freePort(t)
			args := f.procArgs(port, "", "tcp://"+sp.addr)
			p1 := startProc(t, bin, f.dir+"/run1.log", args...)
			if err := p1.waitLog(ctx, `"printerd: running"`); err != nil {
				t.Fatal(err)
			}
			natsURL := "nats://127.0.0.1:" + itoa(port)
			_, js := f.connectRetry(t, natsURL, "inspector")
			time.Sleep(300 * time.Millisecond) // the worker's start-up reads
			base := map[string]int{"Rco": sp.commands("Rco"), "Db": sp.commands("Db"), "Se": sp.commands("Se")}
			_, ids := f.publishSamples(ctx, t, js, 2)
			journal := filepath.Join(f.state, "outcomes.journal")
			for !st.fire(sp, journal, base) {
				select {
				case <-ctx.Done():
					t.Fatal("the stage never came")
				case <-time.After(time.Millisecond):
				}
			}
			time.Sleep(st.wait)
			p1.cmd.Process.Signal(syscall.SIGKILL)
			p1.exitCode(ctx)

			p2 := startProc(t, bin, f.dir+"/run2.log", args...)
			if err := p2.waitLog(ctx, `"printerd: running"`); err != nil {
				t.Fatal(err)
			}
			entries := settleJobs(ctx, t, js, ids)
			first := entries[ids[0]]
			got := fmt.Sprint(first["state"])
			if first["spoiled"] == true {
				got += "-spoiled"
			}
			if st.want != "" && got != st.want {
				t.Errorf("killed %s: first job %s (reason %q), want %s", st.name, got, first["reason"], st.want)
			}
			held := 0
			for id, e := range entries {
				if e["state"] == "held" {
					held++
					if r := fmt.Sprint(e["reason"]); !knownReason(r) {
						t.Errorf("job %s held with reason %q: want what the printer showed", id, r)
					}
					// The clerk sees what reconciliation found.
					code, out, _ := runCLI(ctx, "jobs", "status", id, "--nats", natsURL, f.as("clerk-1"))
					if code != exitOK || !strings.Contains(out, "before feed") || !strings.Contains(out, fmt.Sprint(e["reason"])) {
						t.Errorf("jobs status %s: exit %d:\n%s\nwant the reason and the printer's snapshots", id, code, out)
					}
					if e["spoiled"] == true && !strings.Contains(out, "spoiled-destroyed") {
						t.Errorf("jobs status of a spoiled card's job does not say how to release it:\n%s", out)
					}
				}
			}
			released := releaseHeld(ctx, t, f, natsURL, entries)
			entries = settleJobs(ctx, t, js, ids)
			for id, e := range entries {
				if e["state"] != "printed" {
					t.Errorf("job %s after release: %v", id, e)
				}
			}
			time.Sleep(500 * time.Millisecond) // room for a wrong second card
			sigterm(p2)
			p2.exitCode(ctx)
			printed, rejected := sp.stop(ctx, t)
			t.Logf("killed %s: first job %s; held %d, released %d; printer: %d printed, %d rejected", st.name, got, held, released, printed, rejected)
			if printed != len(ids) {
				t.Errorf("the printer printed %d cards for %d jobs: want exactly one each", printed, len(ids))
			}
			if got == "held-spoiled" && rejected != 1 {
				t.Errorf("a spoiled card, but %d cards in the reject tray", rejected)
			}
		})
	}
}

// publishSamples publishes n sealed, signed sample jobs to the default pool and
// returns them with their ids.
func (f *e2eFixture) publishSamples(ctx context.Context, t testing.TB, js jetstream.JetStream, n int) ([]*job.Job, []string) {
	t.Helper()
	jobs := sample.Jobs(n, time.Now())
	var ids []string
	for _, j := range jobs {
		if _, err := js.PublishMsg(ctx, signed(queue.JobsSubject("local", "default"), j.ID, f.sealed(ctx, t, js, "local", "default", j), f.approver)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	return jobs, ids
}
