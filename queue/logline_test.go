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
	_ = body
	p := people[0]
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
		for _, v := range []string{p.name, p.dob, p.gender} {
			if strings.Contains(l, v) {
				t.Errorf("printed line holds personal data %q: %s", v, l)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d \"card printed\" lines; want 1", found)
	}
}
