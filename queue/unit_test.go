package queue

import (
	"strings"
	"testing"

	"github.com/cityid/printerd/queue/job"
)

func TestReleaseOf(t *testing.T) {
	const id = "0b5c8a1e-3f4d-4c2a-9e6b-7d8f9a0b1c2d"
	tests := []struct {
		msgID string
		n     int
		ok    bool
	}{
		{id, 0, true},
		{ReleaseMsgID(id, 1), 1, true},
		{ReleaseMsgID(id, 12), 12, true},
		{id + "/release-0", 0, false},
		{id + "/release-01", 0, false},
		{id + "/release--1", 0, false},
		{id + "/release-", 0, false},
		{id + "/release-1x", 0, false},
		{id + "/held-1", 0, false},
		{"", 0, false},
		{strings.ToUpper(id), 0, false},
		{"0b5c8a1e-3f4d-4c2a-9e6b-7d8f9a0b1c2e", 0, false},
	}
	for _, tc := range tests {
		n, ok := releaseOf(tc.msgID, id)
		if n != tc.n || ok != tc.ok {
			t.Errorf("releaseOf(%q) = %d, %v; want %d, %v", tc.msgID, n, ok, tc.n, tc.ok)
		}
	}
}

func TestIssueAllowed(t *testing.T) {
	const a, b = "job-a", "job-b"
	tests := []struct {
		mark  IssueMark
		issue int
		id    string
		want  bool
	}{
		{IssueMark{}, 1, a, true},                    // first card
		{IssueMark{Issue: 1, JobID: a}, 2, b, true},  // a reprint
		{IssueMark{Issue: 1, JobID: a}, 1, a, true},  // the job's own reservation (retry, release)
		{IssueMark{Issue: 1, JobID: a}, 1, b, false}, // same issue, another job
		{IssueMark{Issue: 3, JobID: a}, 2, b, false}, // lower issue
		{IssueMark{Issue: 3, JobID: a, Printed: true}, 3, a, true},
	}
	for _, tc := range tests {
		if got := tc.mark.allows(tc.id, tc.issue); got != tc.want {
			t.Errorf("issueAllowed(%+v, issue %d by %s) = %v, want %v", tc.mark, tc.issue, tc.id, got, tc.want)
		}
	}
}

func TestValidTokenAndUUID(t *testing.T) {
	for _, s := range []string{"local", "front-desk", "p_1", "0b5c8a1e-3f4d-4c2a-9e6b-7d8f9a0b1c2d"} {
		if !ValidToken(s) {
			t.Errorf("ValidToken(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a.b", "a*", ">", "a b", strings.Repeat("x", 65), "é"} {
		if ValidToken(s) {
			t.Errorf("ValidToken(%q) = true", s)
		}
	}
	if !job.ValidID("0b5c8a1e-3f4d-4c2a-9e6b-7d8f9a0b1c2d") || job.ValidID("0b5c8a1e3f4d4c2a9e6b7d8f9a0b1c2d") || job.ValidID("zb5c8a1e-3f4d-4c2a-9e6b-7d8f9a0b1c2d") || job.ValidID("0B5C8A1E-3F4D-4C2A-9E6B-7D8F9A0B1C2D") {
		t.Errorf("job.ValidID wrong")
	}
}

// FuzzMsgID feeds arbitrary Nats-Msg-Id headers and bodies to the parsing
// a worker does before the ledger: it must never panic, and a release
// counter it accepts must round-trip.
func FuzzMsgID(f *testing.F) {
	const id = "0b5c8a1e-3f4d-4c2a-9e6b-7d8f9a0b1c2d"
	for _, s := range []string{id, ReleaseMsgID(id, 3), id + "/release-", "/release-1", "", "x/release-9999999999999999999999"} {
		f.Add(s, []byte(`{"job_id":"`+id+`"}`))
	}
	f.Add("", []byte(`{"job_id":`))
	f.Fuzz(func(t *testing.T, msgID string, body []byte) {
		if n, ok := releaseOf(msgID, id); ok {
			if n == 0 && msgID != id || n > 0 && ReleaseMsgID(id, n) != msgID {
				t.Fatalf("releaseOf(%q) = %d, true: does not round-trip", msgID, n)
			}
		}
		_ = baseID(msgID)
		if got := lenientJobID(body); got != "" && !job.ValidID(got) {
			t.Fatalf("lenientJobID returned a non-UUID %q", got)
		}
	})
}
