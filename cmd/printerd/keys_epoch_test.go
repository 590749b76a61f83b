package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job/sample"
)

// TestKeysEpoch: printerd keys daemon prints the key enrollment pins;
// keys epoch list shows the daemon's current key; keys epoch destroy
// destroys it and withdraws its announcement, so a job sealed to it is
// refused with a reason telling enrollment to re-submit, and submit finds
// no key to seal to until the daemon makes a new one.
func TestKeysEpoch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := newE2EFixture(t)
	p := startInProcess(t, f.config(simURI(t, "keys", f.out, nil)), daemonDeps{tune: func(c *queue.Config) {
		c.RetryDelay = 50 * time.Millisecond
	}})
	url := p.d.NATSURL()

	code, out, errs := runCLI(ctx, "keys", "daemon", "--state", f.state, "--json", "--out", filepath.Join(f.dir, "pins", "d1.pub"))
	var dk struct {
		KID       string `json:"kid"`
		PublicKey string `json:"public_key"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &dk) != nil {
		t.Fatalf("keys daemon: exit %d, %q %q", code, out, errs)
	}
	if pub, err := daemonPub(f.state); err != nil || pub.KID != dk.KID || !strings.Contains(dk.PublicKey, "BEGIN PUBLIC KEY") {
		t.Fatalf("keys daemon: kid %s, want %v (%v)", dk.KID, pub.KID, err)
	}

	code, out, errs = runCLI(ctx, "keys", "epoch", "list", "--state", f.state, "--json")
	var keys []epochKeyView
	if code != exitOK || json.Unmarshal([]byte(out), &keys) != nil {
		t.Fatalf("keys epoch list: exit %d, %q %q", code, out, errs)
	}
	var cur epochKeyView
	for _, k := range keys {
		if k.State == "current" {
			cur = k
		}
	}
	if cur.KID == "" || !cur.DestroyedAfter.After(cur.End) {
		t.Fatalf("keys epoch list: no current key in %+v", keys)
	}

	// Submit through the pinned directory the daemon command wrote.
	j := sample.Jobs(1, time.Now())[0]
	plain := filepath.Join(f.dir, "card.json")
	os.WriteFile(plain, sample.Body(j), 0o600)
	nc, js := f.connect(t, url, "inspector")
	evs := watchEvents(t, nc)
	code, out, errs = runCLI(ctx, "submit", plain, "--approver-key", f.approverKey, "--daemon-keys", filepath.Join(f.dir, "pins"), "--nats", url, f.as("enr"), "--json")
	var sub struct {
		SealedTo []string `json:"sealed_to"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &sub) != nil || len(sub.SealedTo) != 1 || sub.SealedTo[0] != cur.KID {
		t.Fatalf("submit: exit %d, %q %q: want it sealed to %s", code, out, errs, cur.KID)
	}
	if err := evs.waitFor(ctx, []string{j.ID}, queue.EventPrinted); err != nil {
		t.Fatal(err)
	}

	// A job sealed now, published after the key is destroyed.
	late := sample.Jobs(2, time.Now())[1]
	lateMsg := signed(queue.JobsSubject("local", "default"), late.ID, f.sealed(ctx, t, js, "local", "default", late), f.approver)
	code, out, errs = runCLI(ctx, "keys", "epoch", "destroy", cur.Epoch, "--state", f.state, "--nats", url, f.as("inspector"))
	if code != exitOK || !strings.Contains(out, "withdrew its announcement") {
		t.Fatalf("keys epoch destroy: exit %d, %q %q", code, out, errs)
	}
	if _, err := js.PublishMsg(ctx, lateMsg); err != nil {
		t.Fatal(err)
	}
	if err := evs.waitFor(ctx, []string{late.ID}, queue.EventRejected); err != nil {
		t.Fatal(err)
	}
	if ev, _ := evs.last(late.ID); !strings.HasPrefix(ev.Reason, "key-gone: ") || !strings.Contains(ev.Reason, "submit it as a new job") {
		t.Errorf("rejected reason %q: want key-gone and a re-submit hint", ev.Reason)
	}
	// Enrollment finds no current key until the daemon makes a new one.
	code, _, errs = runCLI(ctx, "submit", plain, "--approver-key", f.approverKey, "--daemon-keys", filepath.Join(f.dir, "pins"), "--nats", url, f.as("enr"))
	if code != exitFail || !strings.Contains(errs, "no pinned daemon of the site has a current epoch key") {
		t.Errorf("submit after destroy: exit %d, %q", code, errs)
	}
	if err := p.d.Queue().UpkeepKeys(ctx); err != nil {
		t.Fatal(err)
	}
	j2 := sample.Jobs(3, time.Now())[2]
	os.WriteFile(plain, sample.Body(j2), 0o600)
	if code, out, errs := runCLI(ctx, "submit", plain, "--approver-key", f.approverKey, "--daemon-keys", filepath.Join(f.dir, "pins"), "--nats", url, f.as("enr")); code != exitOK {
		t.Fatalf("submit after the upkeep: exit %d, %q %q", code, out, errs)
	}
	if err := evs.waitFor(ctx, []string{j2.ID}, queue.EventPrinted); err != nil {
		t.Fatal(err)
	}
}

// TestRunAcceptV1: printerd run with accept-v1 prints a v1 (plaintext)
// job and warns at start and for the job; without it the same job is
// refused with a reason naming v and accept-v1.
func TestRunAcceptV1(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, accept := range []bool{true, false} {
		f := newE2EFixture(t)
		cfg := f.config(simURI(t, "v1", f.out, nil))
		cfg.AcceptV1 = accept
		p := startInProcess(t, cfg, daemonDeps{})
		nc, js := f.connect(t, p.d.NATSURL(), "inspector")
		evs := watchEvents(t, nc)
		j := sample.Jobs(1, time.Now())[0]
		if _, err := js.PublishMsg(ctx, signed(queue.JobsSubject("local", "default"), j.ID, sample.Body(j), f.approver)); err != nil {
			t.Fatal(err)
		}
		want := queue.EventRejected
		if accept {
			want = queue.EventPrinted
		}
		if err := evs.waitFor(ctx, []string{j.ID}, want); err != nil {
			t.Fatalf("accept-v1 %v: %v", accept, err)
		}
		log := string(p.log.Bytes())
		warned := strings.Contains(log, `"level":"WARN","msg":"queue: accept-v1 is on`) &&
			strings.Contains(log, `"msg":"queue: v1 job accepted (accept-v1)`)
		if warned != accept {
			t.Errorf("accept-v1 %v: warnings in the log: %v", accept, warned)
		}
		if ev, _ := evs.last(j.ID); !accept && !strings.Contains(ev.Reason, "accept-v1") {
			t.Errorf("refused v1 job: reason %q", ev.Reason)
		}
	}
}
