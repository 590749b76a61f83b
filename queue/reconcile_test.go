package queue

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue/internal/natstest"
)

// decide is the reconciliation rule: each way a card can end, and each
// thing the printer cannot tell.
func TestDecide(t *testing.T) {
	pre := drivers.Snapshot{Serial: "S1", Printed: 10, Rejected: 2, Card: drivers.CardNone}
	snap := func(f func(*drivers.Snapshot)) drivers.Snapshot { s := pre; f(&s); return s }
	for _, tc := range []struct {
		name     string
		post     drivers.Snapshot
		rejected bool
		want     string
		reason   string
	}{
		{"printed", snap(func(s *drivers.Snapshot) { s.Printed = 11 }), false, OutcomePrinted, "reconciled: printed (printed 10->11, rejected 2->2)"},
		{"card inside rejected", snap(func(s *drivers.Snapshot) { s.Rejected = 3 }), true, OutcomeSpoiled, "spoiled: card left inside"},
		{"went to the reject tray", snap(func(s *drivers.Snapshot) { s.Rejected = 3 }), false, OutcomeSpoiled, "spoiled: the card went to the reject tray"},
		{"not fed", pre, false, OutcomeRetry, "retry: not fed"},
		{"another printer", snap(func(s *drivers.Snapshot) { s.Serial = "S2" }), false, OutcomeHeld, `unknown outcome: printer serial is "S2"`},
		{"counters went back", snap(func(s *drivers.Snapshot) { s.Printed = 0 }), false, OutcomeHeld, "counters went back"},
		{"two cards", snap(func(s *drivers.Snapshot) { s.Printed = 12 }), false, OutcomeHeld, "more than one card"},
		{"inside and printed", snap(func(s *drivers.Snapshot) { s.Printed = 11; s.Rejected = 3 }), true, OutcomeHeld, "printed counter moved too"},
		{"magicard: position unknown", snap(func(s *drivers.Snapshot) { s.Rejected = -1; s.Card = drivers.CardUnknown; s.Unsure = "card position" }), false, OutcomeHeld, "card position is unknown: card position"},
		{"magicard: error before feed", snap(func(s *drivers.Snapshot) {
			s.Rejected, s.Card, s.Error, s.ErrorFeed = -1, drivers.CardUnknown, "feeder-empty", drivers.BeforeFeed
		}), false, OutcomeRetry, "printer reports feeder-empty before feed"},
		{"magicard: printed", snap(func(s *drivers.Snapshot) { s.Printed, s.Rejected, s.Card = 11, -1, drivers.CardUnknown }), false, OutcomePrinted, "printed 10->11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := decide(pre, tc.post, tc.rejected)
			if v.Outcome != tc.want || !strings.Contains(v.Reason, tc.reason) || v.Post == nil || *v.Post != tc.post {
				t.Fatalf("decide = %s %q, want %s with %q", v.Outcome, v.Reason, tc.want, tc.reason)
			}
		})
	}
}

// A garbled reply to the eject, after the card came out good, is not a
// spoiled card: the daemon asks the printer, sees the printed counter one
// up and no card inside, and records the card printed, once.
func TestGarbledEjectReplyIsPrinted(t *testing.T) {
	e := newEnv(t, 1, nil)
	// Pr, Ss, Sr, five panels, then Se: its reply is garbage.
	e.devs[0].armPrint("garbage=8")
	id, body := newJob("G-0001", 1, 0)
	e.submit(id, body)
	ent := e.waitState(id, Printed)
	if ent.Pre == nil || ent.Post == nil || ent.Post.Printed != ent.Pre.Printed+1 || !strings.HasPrefix(ent.Reason, "reconciled: printed") {
		t.Errorf("entry %+v: want printed by reconciliation, counter one up", ent)
	}
	if p := e.allPrinted(); p[id] != 1 || len(p) != 1 {
		t.Errorf("printed %v, want the job once", p)
	}
	time.Sleep(300 * time.Millisecond)
	if got := e.devs[0].dev.Counters(); got.Printed != 1 || got.Rejected != 0 {
		t.Errorf("printer counters %+v, want one printed, none rejected", got)
	}
}

// Release refuses a number and issue card_issues records delivered: that
// card exists, and a release would print a second one.
func TestReleaseRefusesDelivered(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.devs[0].fault(t, "jam=m")
	id, body := newJob("D-0001", 1, 0)
	e.submit(id, body)
	ent := e.waitState(id, Held)
	ctx := natstest.Context(t, 10*time.Second)
	is := e.st.issues()
	m, err := is.get(ctx, "D-0001")
	if err != nil || m.JobID != id || m.Delivered {
		t.Fatalf("card_issues before: %+v, %v; want reserved by the job, not delivered", m, err)
	}
	if err := is.markDelivered(ctx, "D-0001", 1, id, "", m, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = e.d.Clerk().Release(ctx, id, "clerk-2", ReleaseSpoiledDestroyed)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already delivered") {
		t.Fatalf("release of a delivered number and issue: %v, want a conflict saying already delivered", err)
	}
	if now := e.waitState(id, Held); now.Releases != ent.Releases {
		t.Fatalf("entry moved: %+v", now)
	}
}
