package queue

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPrintedLogLine: each printed card leaves one INFO line naming the
// job, the printer and the issue, and nothing of the person.
func TestPrintedLogLine(t *testing.T) {
	e := newEnv(t, 1, nil)
	id, body := newJob("L-0001", 1, 0)
	e.submit(id, body)
	e.waitState(id, Printed)
	var j jobPart
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if !strings.Contains(l, `"msg":"queue: card printed"`) {
			continue
		}
		found++
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["level"] != "INFO" || rec["job_id"] != id || rec["printer"] != "p0" {
			t.Errorf("printed line %s; want INFO with job_id and printer", l)
		}
		for _, p := range []string{j.Card.Name, j.Card.DOB, j.Card.Gender} {
			if strings.Contains(l, p) {
				t.Errorf("printed line holds personal data %q: %s", p, l)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d \"card printed\" lines; want 1", found)
	}
}

// jobPart is the part of a job body the test reads.
type jobPart struct {
	Card struct {
		Name, DOB, Gender string
	}
}
