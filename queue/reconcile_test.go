package queue

import (
	"strings"
	"testing"

	"github.com/cityid/printerd/drivers"
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
