package queue

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cityid/printerd/drivers"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/queue/internal/natstest"
	"github.com/cityid/printerd/queue/job"
)

func TestSetupIdempotent(t *testing.T) {
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	for i := 0; i < 2; i++ {
		st, err := Setup(ctx, srv.JS, SetupConfig{HeldRetention: time.Hour})
		if err != nil {
			t.Fatalf("Setup #%d: %v", i+1, err)
		}
		info, err := st.Jobs.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.Retention != jetstream.WorkQueuePolicy || info.Config.Duplicates < time.Hour || info.Config.Storage != jetstream.FileStorage {
			t.Errorf("CARD_JOBS config %+v: want WorkQueue, file storage, duplicates >= 1h", info.Config)
		}
		ai, _ := st.Audit.Info(ctx)
		if !ai.Config.DenyDelete || !ai.Config.DenyPurge {
			t.Errorf("CARD_AUDIT must deny delete and purge")
		}
		hi, _ := st.Held.Info(ctx)
		if hi.Config.MaxAge != time.Hour {
			t.Errorf("CARD_HELD MaxAge %v, want 1h", hi.Config.MaxAge)
		}
		ss, _ := st.Status.Status(ctx)
		if ss.TTL() != 3*DefaultStatusInterval {
			t.Errorf("printer_status TTL %v, want %v", ss.TTL(), 3*DefaultStatusInterval)
		}
	}
}

func TestOpenStores(t *testing.T) {
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := OpenStores(ctx, srv.JS); err == nil {
		t.Fatalf("OpenStores before Setup: want an error")
	}
	if _, err := Setup(ctx, srv.JS, SetupConfig{HeldRetention: 5 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	st, err := OpenStores(ctx, srv.JS)
	if err != nil {
		t.Fatalf("OpenStores: %v", err)
	}
	if info, _ := st.Held.Info(ctx); info.Config.MaxAge != 5*time.Hour {
		t.Errorf("OpenStores changed CARD_HELD retention to %v", info.Config.MaxAge)
	}
	if n, err := VerifyAudit(ctx, st, "local", nil); err != nil || n != 0 {
		t.Errorf("VerifyAudit on an empty chain = %d, %v", n, err)
	}
}

func TestPrintsApprovedJobsExactlyOnce(t *testing.T) {
	e := newEnv(t, 3, nil)
	var ids []string
	for i := 0; i < 12; i++ {
		id, body := newJob(fmt.Sprintf("C-%04d", i), 1, i)
		e.submit(id, body)
		if i%4 == 0 {
			e.submit(id, body) // a duplicate publish
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		ent := e.waitState(id, Printed)
		if ent.Printer == "" || ent.CardNumber == "" {
			t.Errorf("ledger %s: %+v: want printer and card number", id, ent)
		}
		e.waitEvent(id, EventPrinted)
	}
	printed := e.allPrinted()
	for _, id := range ids {
		if printed[id] != 1 {
			t.Errorf("job %s printed %d times, want 1", id, printed[id])
		}
	}
	if len(printed) != len(ids) {
		t.Errorf("printed %d distinct cards, want %d", len(printed), len(ids))
	}
	// card_issues marks the issue printed.
	kve, err := e.st.Issues.Get(context.Background(), "C-0003")
	if err != nil {
		t.Fatal(err)
	}
	var m IssueMark
	_ = json.Unmarshal(kve.Value(), &m)
	if m.Issue != 1 || !m.Printed || m.JobID != ids[3] {
		t.Errorf("card_issues C-0003 = %+v, want issue 1 printed by %s", m, ids[3])
	}
	n, err := VerifyAudit(context.Background(), e.st, "test", e.auditKeys())
	if err != nil || n != len(ids) {
		t.Errorf("VerifyAudit = %d, %v; want %d records, nil", n, err, len(ids))
	}
	got := testutil.ToFloat64(e.d.Metrics().Cards.WithLabelValues("p0", "printed")) +
		testutil.ToFloat64(e.d.Metrics().Cards.WithLabelValues("p1", "printed")) +
		testutil.ToFloat64(e.d.Metrics().Cards.WithLabelValues("p2", "printed"))
	if got != float64(len(ids)) {
		t.Errorf("printed metric %v, want %d", got, len(ids))
	}
	// The job stream is empty: every job was acked.
	info, _ := e.st.Jobs.Info(context.Background())
	if info.State.Msgs != 0 {
		t.Errorf("CARD_JOBS holds %d messages after all printed, want 0", info.State.Msgs)
	}
}

func TestRejectedJobsNeverPrint(t *testing.T) {
	e := newEnv(t, 1, nil)
	other := newSigner(t)
	tests := []struct {
		name    string
		publish func(id string, body []byte)
		ledger  State // "" means no ledger entry
		reason  string
	}{
		{"unsigned", func(id string, b []byte) { e.publish(b, id, "", "") }, "", "approval"},
		{"unknown key", func(id string, b []byte) { e.publish(b, id, other.kid, other.sign(b)) }, "", "Approval-Key"},
		{"forged with trusted key id", func(id string, b []byte) { e.publish(b, id, e.signer.kid, other.sign(b)) }, "", "Approval-Signature"},
		{"altered body", func(id string, b []byte) {
			sig := e.signer.sign(b)
			alt := []byte(strings.Replace(string(b), `"issue":1`, `"issue":2`, 1))
			e.publish(alt, id, e.signer.kid, sig)
		}, "", "Approval-Signature"},
		{"bad base64 signature", func(id string, b []byte) { e.publish(b, id, e.signer.kid, "%%%") }, "", "approval"},
		{"malformed signed", func(id string, b []byte) {
			bad := []byte(`{"v":2,"job_id":"` + id + `","kind":"issue","extra":true}`)
			e.publish(bad, id, e.signer.kid, e.signer.sign(bad))
		}, Rejected, "unknown field"},
		{"not json signed", func(id string, b []byte) {
			bad := []byte("Zephyrine")
			e.publish(bad, id, e.signer.kid, e.signer.sign(bad))
		}, "", "body"},
		{"msg id mismatch", func(id string, b []byte) { e.publish(b, "not-the-job-id", e.signer.kid, e.signer.sign(b)) }, "", "Nats-Msg-Id"},
		{"no msg id", func(id string, b []byte) { e.publish(b, "", e.signer.kid, e.signer.sign(b)) }, "", "Nats-Msg-Id"},
		{"release id of unknown job", func(id string, b []byte) {
			e.publish(b, ReleaseMsgID(e.msgID(id, b), 1), e.signer.kid, e.signer.sign(b))
		}, "", "Nats-Msg-Id"},
		{"plain job id as msg id", func(id string, b []byte) { e.publish(b, id, e.signer.kid, e.signer.sign(b)) }, "", "Nats-Msg-Id"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, body := newJob(fmt.Sprintf("R-%04d", i), 1, i)
			tc.publish(id, body)
			// Rejections whose job id is the Nats-Msg-Id show on its events.
			var ev Event
			deadline := time.Now().Add(10 * time.Second)
			for ev.State == "" && time.Now().Before(deadline) {
				for _, x := range e.events(id) {
					if x.State == EventRejected {
						ev = x
					}
				}
				if ev.State == "" {
					for _, x := range e.events(invalidJobID) {
						if strings.Contains(x.Reason, tc.reason) && x.At.After(time.Now().Add(-5*time.Second)) {
							ev = x
						}
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			if ev.State != EventRejected {
				t.Fatalf("no rejected event")
			}
			if !strings.Contains(ev.Reason, tc.reason) {
				t.Errorf("reason %q, want it to name %q", ev.Reason, tc.reason)
			}
			ent, err := e.st.ledger().get(context.Background(), id)
			if tc.ledger == "" && !errors.Is(err, ErrNotFound) {
				t.Errorf("ledger entry %+v, %v: want none (an untrusted job id must not touch the ledger)", ent, err)
			}
			if tc.ledger != "" && ent.State != tc.ledger {
				t.Errorf("ledger %q, want %q", ent.State, tc.ledger)
			}
		})
	}
	// Now a good job goes through, so everything before it was handled.
	id, body := newJob("R-GOOD", 1, 0)
	e.submit(id, body)
	e.waitState(id, Printed)
	e.waitEvent(id, EventPrinted) // published after the audit record
	if p := e.allPrinted(); len(p) != 1 || p[id] != 1 {
		t.Errorf("printed %v, want only the good job once", p)
	}
	if got := testutil.ToFloat64(e.d.Metrics().Cards.WithLabelValues("p0", "rejected")); got != float64(len(tests)) {
		t.Errorf("rejected metric %v, want %d", got, len(tests))
	}
	if n, err := VerifyAudit(context.Background(), e.st, "test", e.auditKeys()); err != nil || n != len(tests)+1 {
		t.Errorf("VerifyAudit = %d, %v; want %d, nil", n, err, len(tests)+1)
	}
}

func TestFailureBeforeFeedRetries(t *testing.T) {
	e := newEnv(t, 1, nil)
	// The ribbon runs out once the worker saw the printer ready, before the
	// card is fed (the printer refuses it at Ss): no card moved.
	e.devs[0].armPrint("ribbon-out-after=0")
	id, body := newJob("B-0001", 1, 0)
	e.submit(id, body)
	retried := e.d.Metrics().Cards.WithLabelValues("p0", "retried")
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(retried) < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := testutil.ToFloat64(retried); got != 1 {
		t.Fatalf("retried metric %v, want 1; log:\n%s", got, e.logs)
	}
	ent := e.waitState(id, Claimed)
	if !strings.Contains(ent.Reason, "ribbon-out") {
		t.Errorf("ledger reason %q, want ribbon-out", ent.Reason)
	}
	if p := e.allPrinted(); len(p) != 0 {
		t.Fatalf("printed %v without ribbon", p)
	}
	// The worker waits for the printer; the operator changes the ribbon.
	time.Sleep(300 * time.Millisecond)
	if got := testutil.ToFloat64(retried); got != 1 {
		t.Errorf("retried %v times while the printer was not ready; a worker must wait for Ready", got)
	}
	e.devs[0].dev.SetRibbon(300)
	e.waitState(id, Printed)
	if p := e.allPrinted(); p[id] != 1 || len(p) != 1 {
		t.Errorf("printed %v, want %s once", p, id)
	}
}

func TestSpoiledCardHeldThenReleased(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.devs[0].fault(t, "jam=m")
	id, body := newJob("S-0001", 1, 1)
	e.submit(id, body)
	ent := e.waitState(id, Held)
	if !strings.Contains(ent.Reason, "card-jam") {
		t.Errorf("held reason %q, want card-jam", ent.Reason)
	}
	ev := e.waitEvent(id, EventHeld)
	if ev.Reason == "" {
		t.Errorf("held event has no reason")
	}
	if p := e.allPrinted(); len(p) != 0 {
		t.Fatalf("printed %v after a jam, want nothing", p)
	}
	held := e.streamData(StreamHeld, HeldSubject("test", id))
	if len(held) != 1 || string(held[0]) != string(body) {
		t.Fatalf("CARD_HELD holds %d copies, want the exact job body once", len(held))
	}
	// The daemon asked the printer: the jammed card was inside, it went
	// to the reject tray (counted), and the job is held as spoiled.
	if !ent.Spoiled || ent.Post == nil || ent.Pre == nil || ent.Post.Rejected != ent.Pre.Rejected+1 || ent.Post.Card != drivers.CardNone {
		t.Errorf("held entry: spoiled %v, pre %+v, post %+v; want spoiled, one more rejected, no card inside", ent.Spoiled, ent.Pre, ent.Post)
	}
	if st := e.devs[0].dev.State(); st.CardInside || st.Error != "" || e.devs[0].dev.Counters().Rejected != 1 {
		t.Errorf("printer after reconciliation: %+v, %d rejected; want empty, no error, one rejected", st, e.devs[0].dev.Counters().Rejected)
	}
	ctx := natstest.Context(t, 10*time.Second)
	c := e.d.Clerk()
	hl, err := c.Held(ctx)
	if err != nil || len(hl) != 1 || hl[0].JobID != id || hl[0].CardNumber != "S-0001" || !hl[0].Spoiled {
		t.Fatalf("Held = %+v, %v; want the one held job, spoiled", hl, err)
	}
	if _, err := c.Release(ctx, id, "", "printer-fixed"); err == nil {
		t.Errorf("Release without operator: want an error")
	}
	if _, err := c.Release(ctx, id, "clerk-7", "fixed it, Zephyrine called"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Release with free text as reason: %v, want ErrInvalid", err)
	}
	if _, err := c.Release(ctx, id, "clerk-7", "printer-fixed"); !errors.Is(err, ErrConflict) {
		t.Errorf("Release of a spoiled card's job without spoiled-destroyed: %v, want ErrConflict", err)
	}
	rel, err := c.Release(ctx, id, "clerk-7", ReleaseSpoiledDestroyed)
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	if rel.Releases != 1 {
		t.Errorf("release counter %d, want 1", rel.Releases)
	}
	e.waitState(id, Printed)
	e.waitEvent(id, EventPrinted) // published after the audit record
	e.waitEvent(id, EventReleased)
	if p := e.allPrinted(); p[id] != 1 || len(p) != 1 {
		t.Errorf("printed %v, want %s exactly once", p, id)
	}
	if held := e.streamData(StreamHeld, HeldSubject("test", id)); len(held) != 0 {
		t.Errorf("CARD_HELD still holds the released job")
	}
	if _, err := c.Release(ctx, id, "clerk-7", "printer-fixed"); !errors.Is(err, ErrConflict) {
		t.Errorf("Release of a printed job: %v, want ErrConflict", err)
	}
	// The original message id re-published (a replay) is skipped.
	e.publish(body, ReleaseMsgID(e.msgID(id, body), 1), e.signer.kid, e.signer.sign(body))
	hist, err := c.History(ctx, "S-0001")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range hist {
		actions = append(actions, r.Action)
	}
	if strings.Join(actions, ",") != "spoiled,released,printed" {
		t.Errorf("history actions %v, want spoiled,released,printed", actions)
	}
	if hist[1].Operator != "clerk-7" {
		t.Errorf("release record operator %q, want clerk-7", hist[1].Operator)
	}
	time.Sleep(300 * time.Millisecond)
	if p := e.allPrinted(); p[id] != 1 {
		t.Errorf("replayed release printed %d times, want 1", p[id])
	}
}

func TestCancelPurgesHeldBody(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.devs[0].fault(t, "ribbon-out=c")
	id, body := newJob("X-0001", 1, 2)
	e.submit(id, body)
	e.waitState(id, Held)
	ctx := natstest.Context(t, 10*time.Second)
	c := e.d.Clerk()
	if _, err := c.Cancel(ctx, id, "clerk-9", "customer-withdrew"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Cancel with a reason that is not a code: %v, want ErrInvalid", err)
	}
	ent, err := c.Cancel(ctx, id, "clerk-9", "withdrawn")
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if ent.State != Cancelled {
		t.Errorf("state %s, want cancelled", ent.State)
	}
	if held := e.streamData(StreamHeld, HeldSubject("test", id)); len(held) != 0 {
		t.Errorf("CARD_HELD still holds the cancelled job's body")
	}
	e.waitEvent(id, EventCancelled)
	if _, err := c.Release(ctx, id, "clerk-9", "printer-fixed"); !errors.Is(err, ErrConflict) {
		t.Errorf("Release of a cancelled job: %v, want ErrConflict", err)
	}
	// A replay of the job is dropped, never printed.
	e.publish(body, id+"-again", e.signer.kid, e.signer.sign(body))
	e.publish(body, e.msgID(id, body), e.signer.kid, e.signer.sign(body))
	time.Sleep(300 * time.Millisecond)
	if p := e.allPrinted(); len(p) != 0 {
		t.Errorf("printed %v, want nothing", p)
	}
}

func TestRedeliveryWhilePrintingIsHeld(t *testing.T) {
	e := newEnv(t, 1, nil)
	id, body := newJob("D-0001", 1, 0)
	// The ledger as a daemon killed mid-card left it.
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := e.st.ledger().create(ctx, id, Entry{State: Printing, Printer: "p0", CardNumber: "D-0001", Issue: 1}); err != nil {
		t.Fatal(err)
	}
	e.submit(id, body)
	ent := e.waitState(id, Held)
	if !strings.Contains(ent.Reason, "unknown outcome") {
		t.Errorf("reason %q, want unknown outcome", ent.Reason)
	}
	if p := e.allPrinted(); len(p) != 0 {
		t.Errorf("printed %v, want nothing", p)
	}
	// The entry may be held by the worker's start-up recovery before the
	// message arrives; the body is copied when it does.
	deadline := time.Now().Add(10 * time.Second)
	held := e.streamData(StreamHeld, HeldSubject("test", id))
	for len(held) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		held = e.streamData(StreamHeld, HeldSubject("test", id))
	}
	if len(held) != 1 {
		t.Errorf("CARD_HELD has %d copies, want 1", len(held))
	}
}

func TestSameIssueNeverPrintedTwice(t *testing.T) {
	e := newEnv(t, 2, nil)
	id1, b1 := newJob("I-0001", 1, 0)
	id2, b2 := newJob("I-0001", 1, 1) // another job, same card number and issue
	e.submit(id1, b1)
	e.submit(id2, b2)
	deadline := time.Now().Add(10 * time.Second)
	var s1, s2 Entry
	for time.Now().Before(deadline) {
		s1, _ = e.st.ledger().get(context.Background(), id1)
		s2, _ = e.st.ledger().get(context.Background(), id2)
		if (s1.State == Printed || s1.State == Rejected) && (s2.State == Printed || s2.State == Rejected) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !(s1.State == Printed && s2.State == Rejected || s1.State == Rejected && s2.State == Printed) {
		t.Fatalf("states %s / %s: want one printed and one rejected", s1.State, s2.State)
	}
	loser := id2
	if s2.State == Printed {
		loser = id1
	}
	ev := e.waitEvent(loser, EventRejected)
	if !strings.Contains(ev.Reason, "card.issue") {
		t.Errorf("reason %q, want it to name card.issue", ev.Reason)
	}
	// A lower issue is refused, a higher one printed.
	id0, b0 := newJob("I-0001", 0, 2)
	e.submit(id0, b0)
	winner := id1
	if loser == id1 {
		winner = id2
	}
	id3, b3 := newReprintOf("I-0001", 2, 2, winner)
	e.submit(id3, b3)
	e.waitState(id0, Rejected)
	e.waitState(id3, Printed)
	p := e.allPrinted()
	if len(p) != 2 || p[id3] != 1 || p[loser] != 0 {
		t.Errorf("printed %v, want one issue 1 and the issue 2", p)
	}
}

// TestReprintOfUnknownJob: a reprint whose of_job the ledger never saw,
// or which names a job of another card number, is rejected naming
// reprint.of_job, and prints nothing; a reprint of a printed job prints.
func TestReprintOfUnknownJob(t *testing.T) {
	e := newEnv(t, 1, nil)
	id1, b1 := newJob("R-0001", 1, 0)
	e.submit(id1, b1)
	e.waitState(id1, Printed)
	other, bo := newJob("R-0002", 1, 1)
	e.submit(other, bo)
	e.waitState(other, Printed)

	unknown, bu := newJob("R-0001", 2, 0) // of_job: a fresh UUID
	e.submit(unknown, bu)
	wrong, bw := newReprintOf("R-0001", 2, 0, other)
	e.submit(wrong, bw)
	for _, id := range []string{unknown, wrong} {
		ev := e.waitEvent(id, EventRejected)
		if !strings.Contains(ev.Reason, "reprint.of_job") {
			t.Errorf("reprint %s rejected for %q; want reprint.of_job", id, ev.Reason)
		}
	}
	good, bg := newReprintOf("R-0001", 2, 0, id1)
	e.submit(good, bg)
	e.waitState(good, Printed)
	if p := e.allPrinted(); p[unknown] != 0 || p[wrong] != 0 || p[good] != 1 {
		t.Errorf("printed %v: want only the reprint of a printed job", p)
	}
}

func TestAuditChainDetectsTampering(t *testing.T) {
	e := newEnv(t, 1, nil)
	for i := 0; i < 3; i++ {
		id, body := newJob(fmt.Sprintf("A-%04d", i), 1, i)
		e.submit(id, body)
		e.waitState(id, Printed)
		e.waitEvent(id, EventPrinted) // published after the audit record
	}
	ctx := natstest.Context(t, 10*time.Second)
	if n, err := VerifyAudit(ctx, e.st, "test", e.auditKeys()); err != nil || n != 3 {
		t.Fatalf("VerifyAudit = %d, %v; want 3, nil", n, err)
	}
	// The stream refuses deletion.
	if err := e.st.Audit.DeleteMsg(ctx, 1); err == nil {
		t.Errorf("CARD_AUDIT allowed deleting a record")
	}
	// A record appended outside the chain writer breaks the chain.
	kid := e.d.AuditKID()
	forged := AuditRecord{Seq: 4, Prev: "00", Site: "test", Daemon: kid, Action: AuditPrinted, JobID: uuid.NewString(), At: time.Now().UTC()}
	forged.Hash = forged.ComputeHash()
	b, _ := json.Marshal(forged)
	if _, err := e.srv.JS.Publish(ctx, AuditSubject("test", kid), b); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyAudit(ctx, e.st, "test", e.auditKeys()); !errors.Is(err, ErrChainBroken) {
		t.Errorf("VerifyAudit after a forged record: %v, want ErrChainBroken", err)
	}
	// The daemon notices too: its chain head moved under it.
	deadline := time.Now().Add(5 * time.Second)
	for e.d.AuditHealthy() == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := e.d.AuditHealthy(); !errors.Is(err, ErrChainBroken) {
		t.Errorf("AuditHealthy after a record was appended behind the daemon's back: %v, want ErrChainBroken", err)
	}
}

// TestVerifyChains: an exported chain with a record forged, changed,
// removed, reordered or signed by an unknown key is refused.
func TestVerifyChains(t *testing.T) {
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	st, err := Setup(ctx, srv.JS, SetupConfig{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	keys := AuditKeys{}
	var logs []*auditLog
	for i := 0; i < 2; i++ { // two daemons of one site, each its own chain
		_, k, _ := ed25519.GenerateKey(nil)
		sg, _ := NewAuditSigner(k)
		keys[sg.KID] = k.Public().(ed25519.PublicKey)
		logs = append(logs, newAuditLog(st, "s1", sg, filepath.Join(t.TempDir(), "head.json")))
	}
	for i := 0; i < 6; i++ {
		if _, err := logs[i%2].Append(ctx, AuditRecord{Action: AuditPrinted, JobID: uuid.NewString(), CardNumber: fmt.Sprintf("T-%04d", i), Issue: 1}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := ExportAudit(ctx, st, "s1")
	if err != nil || len(recs) != 6 {
		t.Fatalf("ExportAudit = %d records, %v", len(recs), err)
	}
	if sum, err := VerifyChains("s1", recs, keys); err != nil || len(sum) != 2 || sum[0].Records != 3 {
		t.Fatalf("VerifyChains = %+v, %v; want two chains of 3", sum, err)
	}
	edit := func(i int, f func(r *AuditRecord)) []ExportedRecord {
		out := append([]ExportedRecord(nil), recs...)
		r, _ := decodeRecord(out[i].Record)
		f(&r)
		out[i].Record, _ = json.Marshal(r)
		return out
	}
	_, rogue, _ := ed25519.GenerateKey(nil)
	tests := []struct {
		name string
		recs []ExportedRecord
	}{
		{"field changed", edit(2, func(r *AuditRecord) { r.CardNumber = "OTHER" })},
		{"field changed, hash recomputed", edit(2, func(r *AuditRecord) { r.Operator = "mallory"; r.Hash = r.ComputeHash() })},
		{"re-signed by an unknown key", edit(2, func(r *AuditRecord) { r.Operator = "mallory"; r.sign(rogue) })},
		{"truncated at the start", recs[2:]},
		{"a record removed", append(append([]ExportedRecord(nil), recs[:2]...), recs[4:]...)},
		{"reordered", []ExportedRecord{recs[0], recs[1], recs[4], recs[3], recs[2], recs[5]}},
	}
	for _, tc := range tests {
		if _, err := VerifyChains("s1", tc.recs, keys); !errors.Is(err, ErrChainBroken) {
			t.Errorf("%s: VerifyChains = %v, want ErrChainBroken", tc.name, err)
		}
	}
	delete(keys, logs[0].signer.KID)
	if _, err := VerifyChains("s1", recs, keys); !errors.Is(err, ErrChainBroken) || !strings.Contains(err.Error(), "not among the trusted keys") {
		t.Errorf("VerifyChains with a daemon's key missing = %v, want an unknown-key error", err)
	}
}

// TestAuditHeadFile: a daemon restarted on a stream that lost its chain,
// or holds a shorter or different one than its head file says, reports
// the chain broken instead of starting a new one.
func TestAuditHeadFile(t *testing.T) {
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 20*time.Second)
	cfg := SetupConfig{Memory: true}
	st, err := Setup(ctx, srv.JS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, k, _ := ed25519.GenerateKey(nil)
	sg, _ := NewAuditSigner(k)
	head := filepath.Join(t.TempDir(), "audit-head.json")
	a := newAuditLog(st, "s1", sg, head)
	for i := 0; i < 3; i++ {
		if _, err := a.Append(ctx, AuditRecord{Action: AuditPrinted, CardNumber: "H-0001"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := newAuditLog(st, "s1", sg, head).Open(ctx); err != nil {
		t.Fatalf("reopen of an intact chain: %v", err)
	}
	if err := srv.JS.DeleteStream(ctx, StreamAudit); err != nil {
		t.Fatal(err)
	}
	if err := a.Check(ctx); !errors.Is(err, ErrChainBroken) {
		t.Errorf("Check after the stream was deleted: %v, want ErrChainBroken", err)
	}
	if _, err := a.Append(ctx, AuditRecord{Action: AuditPrinted}); !errors.Is(err, ErrChainBroken) {
		t.Errorf("Append on a broken chain: %v, want ErrChainBroken", err)
	}
	if st, err = Setup(ctx, srv.JS, cfg); err != nil { // recreated, empty
		t.Fatal(err)
	}
	if err := newAuditLog(st, "s1", sg, head).Open(ctx); !errors.Is(err, ErrChainBroken) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Open on a recreated, empty stream: %v, want a missing chain", err)
	}
	// A shorter chain (two records written again): truncated.
	b := newAuditLog(st, "s1", sg, "")
	for i := 0; i < 2; i++ {
		b.Append(ctx, AuditRecord{Action: AuditPrinted, CardNumber: "H-0001"})
	}
	if err := newAuditLog(st, "s1", sg, head).Open(ctx); !errors.Is(err, ErrChainBroken) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("Open on a shorter chain: %v, want truncated", err)
	}
	// A different third record: forked.
	b.Append(ctx, AuditRecord{Action: AuditRejected, CardNumber: "H-0002"})
	if err := newAuditLog(st, "s1", sg, head).Open(ctx); !errors.Is(err, ErrChainBroken) || !strings.Contains(err.Error(), "forked") {
		t.Errorf("Open on a forked chain: %v, want forked", err)
	}
}

func TestNoPersonalDataOutside(t *testing.T) {
	e := newEnv(t, 2, nil)
	e.devs[0].fault(t, "jam=k")
	var ids []string
	for i := 0; i < 6; i++ {
		id, body := newJob(fmt.Sprintf("P-%04d", i), 1, i)
		e.submit(id, body)
		ids = append(ids, id)
	}
	bad := []byte(`{"v":2,"job_id":"` + uuid.NewString() + `","card":{"name":"Zephyrine Quillfeather"},"zz":1}`)
	e.publish(bad, "x", e.signer.kid, e.signer.sign(bad))
	for _, id := range ids {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			ent, _ := e.st.ledger().get(context.Background(), id)
			if ent.State == Printed || ent.State == Held {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var texts []string
	texts = append(texts, e.logs.String())
	for _, s := range []string{StreamEvents, StreamAudit} {
		for _, b := range e.streamData(s, ">") {
			texts = append(texts, string(b))
		}
	}
	for _, kv := range []jetstream.KeyValue{e.st.Ledger, e.st.Issues, e.st.Status} {
		keys, err := kv.Keys(context.Background())
		if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
			t.Fatal(err)
		}
		for _, k := range keys {
			v, err := kv.Get(context.Background(), k)
			if err == nil {
				texts = append(texts, k, string(v.Value()))
			}
		}
	}
	all := strings.Join(texts, "\n")
	if len(all) < 1000 {
		t.Fatalf("collected only %d bytes of output; the search would prove nothing", len(all))
	}
	for _, p := range people {
		for _, s := range []string{p.name, p.dob, p.gender, "Zephyrine", "Quillfeather"} {
			if strings.Contains(all, s) {
				t.Errorf("personal data %q found outside the job and CARD_HELD", s)
			}
		}
	}
}

func TestDrainFinishesCardAndTakesNoNewJob(t *testing.T) {
	e, id1 := newEnvPrinting(t, "G-0001")
	id2, b2 := newJob("G-0002", 1, 1)
	e.submit(id2, b2)
	done := make(chan error, 1)
	go func() { done <- e.d.Drain(natstest.Context(t, 10*time.Second)) }()
	select {
	case err := <-done:
		t.Fatalf("Drain returned %v with a card in the printer", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := <-done; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	e.waitState(id1, Printed)
	if _, err := e.st.ledger().get(context.Background(), id2); !errors.Is(err, ErrNotFound) {
		t.Errorf("second job touched after drain: %v", err)
	}
	info, _ := e.st.Jobs.Info(context.Background())
	if info.State.Msgs != 1 {
		t.Errorf("CARD_JOBS holds %d messages after drain, want the untouched second job", info.State.Msgs)
	}
}

func TestTwoDaemonsShareTheQueue(t *testing.T) {
	e := newEnv(t, 2, nil)
	// A second daemon on the same NATS, site and pool, with its own printers.
	var devs2 []*simPrinter
	cfg2 := Config{Site: "test", JS: e.srv.JS, Approver: verifierFor(t, e.signer), Keys: testKeys(), Maker: blankMaker{},
		Logger: e.d.log, StatusInterval: 200 * time.Millisecond, FetchWait: 200 * time.Millisecond}
	for i := 0; i < 2; i++ {
		p := newSimPrinter(t, fmt.Sprintf("%s-q%d", t.Name(), i), 0)
		devs2 = append(devs2, p)
		cfg2.Printers = append(cfg2.Printers, Printer{Name: fmt.Sprintf("q%d", i), Dev: p.drv})
	}
	d2, err := Start(natstest.Context(t, 10*time.Second), cfg2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d2.Close)
	e.devs = append(e.devs, devs2...)
	var ids []string
	for i := 0; i < 24; i++ {
		id, body := newJob(fmt.Sprintf("T-%04d", i), 1, i)
		e.submit(id, body)
		ids = append(ids, id)
	}
	byPrinter := map[string]int{}
	for _, id := range ids {
		byPrinter[e.waitState(id, Printed).Printer]++
		e.waitEvent(id, EventPrinted) // published after the audit record
	}
	p := e.allPrinted()
	for _, id := range ids {
		if p[id] != 1 {
			t.Errorf("job %s printed %d times, want 1", id, p[id])
		}
	}
	if byPrinter["q0"]+byPrinter["q1"] == 0 || byPrinter["p0"]+byPrinter["p1"] == 0 {
		t.Logf("one daemon printed everything (%v); allowed, but the test proves less", byPrinter)
	}
	// Each daemon appended to its own chain of the site, signed by its key.
	keys := e.auditKeys()
	keys[d2.AuditKID()] = d2.cfg.AuditKey.Public().(ed25519.PublicKey)
	if n, err := VerifyAudit(natstest.Context(t, 10*time.Second), e.st, "test", keys); err != nil || n != len(ids) {
		t.Errorf("VerifyAudit = %d, %v; want %d, nil", n, err, len(ids))
	}
}

func TestStopMidCardThenRestartHoldsJob(t *testing.T) {
	slow := newSimPrinter(t, t.Name()+"-slow", 0.2) // about 3 s a card
	e := newEnv(t, 1, func(c *Config) { c.Printers[0].Dev = slow.drv })
	id1, b1 := newJob("K-0001", 1, 0)
	e.submit(id1, b1)
	e.waitState(id1, Printing)
	id2, b2 := newJob("K-0002", 1, 1)
	e.submit(id2, b2)
	time.Sleep(200 * time.Millisecond) // the card is in the printer
	e.d.Close()                        // a hard stop: the card is abandoned
	// The stopping daemon records the abandoned card as held (outcome
	// unknown); had it died instead, the ledger would say printing and the
	// next daemon would hold it (TestRedeliveryWhilePrintingIsHeld).
	if ent, _ := e.st.ledger().get(context.Background(), id1); ent.State != Held && ent.State != Printing {
		t.Fatalf("after a hard stop mid-card the ledger says %s, want held or printing", ent.State)
	}
	// A new daemon on a fresh printer takes over.
	fresh := newSimPrinter(t, t.Name()+"-fresh", 0)
	cfg := Config{Site: "test", JS: e.srv.JS, Approver: verifierFor(t, e.signer), Keys: testKeys(), Maker: blankMaker{},
		Logger: e.d.log, StatusInterval: 200 * time.Millisecond, FetchWait: 200 * time.Millisecond,
		AckWait: 2 * time.Second, RetryDelay: 100 * time.Millisecond,
		Printers: []Printer{{Name: "p0", Dev: fresh.drv}}}
	d2, err := Start(natstest.Context(t, 10*time.Second), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d2.Close)
	ent := e.waitState(id1, Held)
	if ent.Reason == "" {
		t.Errorf("held without a reason")
	}
	e.waitState(id2, Printed)
	for _, l := range append(slow.printed(), fresh.printed()...) {
		if l == id1 {
			t.Errorf("the job whose card was abandoned was printed again")
		}
	}
	if got := fresh.printed(); len(got) != 1 || got[0] != id2 {
		t.Errorf("fresh printer printed %v, want only %s", got, id2)
	}
}

func TestRefusedBeforeFeedIsHeld(t *testing.T) {
	tests := []struct {
		name  string
		maker Maker
		lying bool
		want  string
	}{
		// The driver refuses a card for a ribbon it does not know.
		{"bad card", MakerFunc(func(ctx context.Context, j *job.Job, _ card.Ribbon) (card.Card, error) {
			return card.Card{Ribbon: "bogus", Front: card.Side{K: card.NewPlane()}}, nil
		}), false, "bad-command"},
		// A printer that says it is ready and refuses every card.
		{"retries exhausted", blankMaker{}, true, "ribbon-out before feed, retries exhausted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, func(c *Config) { c.Maker = tc.maker; c.RetryLimit = 3 })
			e.devs[0].mu.Lock()
			e.devs[0].ribbonOutEvery = tc.lying
			e.devs[0].mu.Unlock()
			id, body := newJob("F-0001", 1, 0)
			e.submit(id, body)
			ent := e.waitState(id, Held)
			if !strings.Contains(ent.Reason, tc.want) {
				t.Errorf("reason %q, want %q", ent.Reason, tc.want)
			}
			if st := e.devs[0].dev.State(); st.Fed != 0 {
				t.Errorf("simulator fed %d cards, want 0", st.Fed)
			}
		})
	}
}

// TestFinishedJobsErasedFromTheStore searches the raw JetStream files for
// the people of printed, rejected and cancelled jobs: acking or purging
// only unlinks a message, so without SecureDeleteMsg their bytes would
// stay in the block files (the store here is not encrypted, as with a
// joined deployment that does not encrypt).
func TestFinishedJobsErasedFromTheStore(t *testing.T) {
	e := newEnv(t, 1, nil)
	ctx := natstest.Context(t, 10*time.Second)
	// Messages that stay keep the block files alive (a block whose every
	// message is gone is deleted whole): one job waiting in a pool no
	// printer serves, and one held copy.
	waitingJob := []byte("Waiting Witness " + uuid.NewString())
	waitingHeld := []byte("Waiting Witness " + uuid.NewString())
	if _, err := e.srv.JS.Publish(ctx, JobsSubject("test", "nobody"), waitingJob); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.JS.Publish(ctx, HeldSubject("test", "control"), waitingHeld); err != nil {
		t.Fatal(err)
	}
	// Signed, but breaks the contract (unknown field): rejected.
	rejectedID := uuid.NewString()
	bad := []byte(`{"v":2,"job_id":"` + rejectedID + `","card":{"name":"` + people[2].name + `"},"zz":1}`)
	e.publish(bad, e.msgID(rejectedID, bad), e.signer.kid, e.signer.sign(bad))
	e.waitEvent(rejectedID, EventRejected)
	printedID, printedBody := newJob("E-0001", 1, 0)
	e.submit(printedID, printedBody)
	e.waitState(printedID, Printed)

	e.devs[0].fault(t, "jam=k")
	heldID, heldBody := newJob("E-0002", 1, 1)
	e.submit(heldID, heldBody)
	e.waitState(heldID, Held)
	if _, err := e.d.Clerk().Cancel(ctx, heldID, "clerk-1", "withdrawn"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}

	e.waitEvent(heldID, EventCancelled)

	time.Sleep(300 * time.Millisecond)
	raw := readTree(t, e.srv.Dir)
	if !bytes.Contains(raw, waitingJob) || !bytes.Contains(raw, waitingHeld) {
		t.Fatalf("the waiting messages are not in the raw store (%d bytes read): the search would prove nothing", len(raw))
	}
	for i, p := range people {
		for _, s := range []string{p.name, p.gender} {
			if bytes.Contains(raw, []byte(s)) {
				t.Errorf("person %d: %q is still in the raw JetStream files after the job finished", i, s)
			}
		}
	}
}

// readTree concatenates every file under dir.
func readTree(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all = append(all, b...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// TestHeldCopyErasedAtTheEndOfItsRetention: the daemon overwrites a held
// body just before CARD_HELD's MaxAge, instead of leaving the server's
// expiry to unlink it with the person's data still in the block file.
func TestHeldCopyErasedAtTheEndOfItsRetention(t *testing.T) {
	const retention = 3 * time.Second
	e := newEnv(t, 1, func(c *Config) { c.Setup.HeldRetention = retention })
	e.devs[0].fault(t, "jam=k")
	id, body := newJob("R-0001", 1, 1)
	e.submit(id, body)
	e.waitState(id, Held)
	ctx := natstest.Context(t, 10*time.Second)
	// A message of another site, published later, keeps the block file
	// alive past the held copy's expiry and is not the daemon's to erase.
	time.Sleep(500 * time.Millisecond)
	control := []byte("Waiting Witness " + uuid.NewString())
	if _, err := e.srv.JS.Publish(ctx, HeldSubject("other-site", "control"), control); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		_, err := e.st.Held.GetLastMsgForSubject(ctx, HeldSubject("test", id))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the held copy is still there after %v (retention %v): %v", time.Since(start), retention, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	raw := readTree(t, e.srv.Dir)
	if !bytes.Contains(raw, control) {
		t.Fatal("the other site's message is gone too: the sweep erased what was not its own, or the search proves nothing")
	}
	if bytes.Contains(raw, []byte(people[1].name)) {
		t.Errorf("%q is still in the raw JetStream files after the held copy expired: it was unlinked, not erased", people[1].name)
	}
	if _, err := e.d.Clerk().Release(ctx, id, "clerk-1", "printer-fixed"); err == nil {
		t.Error("Release of a job whose held copy expired succeeded")
	}
}

// TestWithPrinterTimesOutWhileACardPrints: a technician's verb that waits
// for the printer gives up at its context while a card prints, is not run,
// and leaves no goroutine waiting for the printer.
func TestWithPrinterTimesOutWhileACardPrints(t *testing.T) {
	e, id := newEnvPrinting(t, "W-0001")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	ran := false
	err := e.d.WithPrinter(ctx, "p0", func(context.Context, drivers.Printer) error { ran = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("WithPrinter while a card prints = %v (ran %v), want a time-out and no run", err, ran)
	}
	time.Sleep(50 * time.Millisecond)
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "printerd/queue.") && !strings.Contains(g, "[running]") && (strings.Contains(g, "sync.(*Mutex).Lock") || strings.Contains(g, "(*Daemon).WithPrinter") || strings.Contains(g, "devLock")) {
			t.Errorf("a goroutine is left waiting for the printer after the time-out:\n%s", g)
		}
	}
	e.waitState(id, Printed)
	// Once the card is out, the printer is free for the verb.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := e.d.WithPrinter(ctx2, "p0", func(ctx context.Context, dev drivers.Printer) error {
		_, err := dev.Counters(ctx)
		return err
	}); err != nil {
		t.Fatalf("WithPrinter after the card: %v", err)
	}
	if err := e.d.WithPrinter(ctx2, "nobody", nil); !errors.Is(err, ErrUnknownPrinter) {
		t.Errorf("WithPrinter on an unknown printer = %v", err)
	}
}

// TestJunkWithAFutureJobsIDDoesNotStopIt: an unsigned message sent first
// under the id the real job will carry (as a plain job id, or with a guess
// of the signature part) is rejected, and the real job still prints: the
// stream's duplicate check cannot be used to make it disappear. A release
// whose republish the stream drops as a duplicate fails, and the job stays
// held and releasable.
func TestJunkWithAFutureJobsIDDoesNotStopIt(t *testing.T) {
	e := newEnv(t, 1, nil)
	id, body := newJob("J-0001", 1, 0)
	junk := []byte(`{"junk":true}`)
	e.publish(junk, id, "", "")
	e.publish(junk, job.MsgID(id, "a guess"), e.signer.kid, "a guess")
	e.submit(id, body)
	e.waitState(id, Printed)
	if p := e.allPrinted(); p[id] != 1 {
		t.Fatalf("the real job printed %d times, want 1", p[id])
	}

	e.devs[0].fault(t, "jam=k")
	id2, body2 := newJob("J-0002", 1, 1)
	e.submit(id2, body2)
	e.waitState(id2, Held)
	e.devs[0].dev.SoftReset()
	// Junk under the first release's id, sent before the clerk releases.
	e.publish(junk, ReleaseMsgID(e.msgID(id2, body2), 1), "", "")
	ctx := natstest.Context(t, 10*time.Second)
	// The jammed card was rejected to the reject tray: the release says
	// it was destroyed.
	if _, err := e.d.Clerk().Release(ctx, id2, "clerk-1", ReleaseSpoiledDestroyed); !errors.Is(err, ErrConflict) {
		t.Fatalf("Release whose republish was a duplicate: %v, want a conflict", err)
	}
	if held := e.streamData(StreamHeld, HeldSubject("test", id2)); len(held) != 1 {
		t.Fatalf("after a failed release CARD_HELD holds %d copies, want the held copy kept", len(held))
	}
	if ent := e.waitState(id2, Held); ent.Releases != 1 {
		t.Errorf("after a failed release: releases %d, want 1 (the next release uses a new id)", ent.Releases)
	}
	if _, err := e.d.Clerk().Release(ctx, id2, "clerk-1", ReleaseSpoiledDestroyed); err != nil {
		t.Fatalf("second release: %v", err)
	}
	e.waitState(id2, Printed)
	if p := e.allPrinted(); p[id2] != 1 {
		t.Errorf("the released job printed %d times, want 1", p[id2])
	}
}
