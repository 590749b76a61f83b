package job_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// personal returns the personal values of j that must never show.
// privateJob is a sample job whose gender is long enough to search for.
func privateJob() *job.Job {
	j := sample.Jobs(1, now)[0]
	j.Card.Gender = "Two-Spirit"
	return j
}

func personal(j *job.Job) []string {
	return []string{j.Card.Name, j.Card.DOB, j.Card.Gender, j.Card.Photo[:40], "Zofia", "1987", "Photo", "Name"}
}

func TestFormatHidesPersonalData(t *testing.T) {
	j := privateJob()
	r := sample.Reprint(j, job.ReasonStolen)
	wrapped := struct {
		J   *job.Job
		All []job.Job
	}{j, []job.Job{*j}}
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%T"} {
		outputs[verb+" job"] = fmt.Sprintf(verb, *j)
		outputs[verb+" *job"] = fmt.Sprintf(verb, j)
		outputs[verb+" card"] = fmt.Sprintf(verb, j.Card)
		outputs[verb+" *card"] = fmt.Sprintf(verb, &j.Card)
		outputs[verb+" wrapped"] = fmt.Sprintf(verb, wrapped)
		outputs[verb+" reprint"] = fmt.Sprintf(verb, r)
	}
	outputs["Println"] = fmt.Sprintln(j, j.Card)
	outputs["String"] = j.String()
	outputs["GoString"] = j.GoString()
	for what, out := range outputs {
		for _, p := range personal(j) {
			if strings.Contains(out, p) {
				t.Errorf("%s shows personal data %q: %s", what, p, out)
			}
		}
	}
	// And they show what an operator needs.
	for _, want := range []string{j.ID, "issue", j.Card.Number, "municipal-id"} {
		if !strings.Contains(outputs["%v job"], want) || !strings.Contains(outputs["%+v *job"], want) {
			t.Errorf("%%v of a job lacks %q: %s", want, outputs["%v job"])
		}
	}
	if !strings.Contains(outputs["%#v *job"], "job.Job{") || !strings.Contains(outputs["%#v *job"], j.Card.Number) {
		t.Errorf("%%#v is not the redacted Go syntax: %s", outputs["%#v *job"])
	}
	if !strings.Contains(outputs["%v reprint"], "reprint") || !strings.Contains(outputs["%v reprint"], "issue 2") {
		t.Errorf("%%v of a reprint: %s", outputs["%v reprint"])
	}
}

func TestFormatOfUnvalidatedJob(t *testing.T) {
	// A job that never passed validation may carry a name anywhere.
	j := sample.Jobs(1, now)[0]
	j.ID, j.Card.Number, j.Template, j.Kind = j.Card.Name, j.Card.Name, j.Card.Name, j.Card.Name
	for _, out := range []string{fmt.Sprint(j), fmt.Sprintf("%#v", j), logJSON(t, j)} {
		if strings.Contains(out, "Zofia") {
			t.Errorf("a name in the id, number, kind or template fields shows: %s", out)
		}
	}
}

func logJSON(t *testing.T, j *job.Job) string {
	t.Helper()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("printing", "job", j, "card", j.Card, "value", *j)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("printing", slog.Any("job", j))
	return buf.String()
}

func TestSlogHidesPersonalData(t *testing.T) {
	j := privateJob()
	out := logJSON(t, j)
	for _, p := range personal(j) {
		if strings.Contains(out, p) {
			t.Errorf("slog output shows %q: %s", p, out)
		}
	}
	for _, want := range []string{`"job_id":"` + j.ID + `"`, `"card_number":"SAMPLE-000001"`, `"issue":1`, `"template":"municipal-id"`, `"kind":"issue"`} {
		if !strings.Contains(out, want) {
			t.Errorf("slog JSON lacks %s: %s", want, out)
		}
	}
}

func TestFieldErrorHasNoValue(t *testing.T) {
	j := sample.Jobs(1, now)[0]
	j.Card.DOB = "1987-02-30"
	err := j.ValidateAt(now)
	if err == nil || strings.Contains(err.Error(), "1987") || !strings.Contains(err.Error(), "card.dob") {
		t.Errorf("error %v: want card.dob named, the value not", err)
	}
	j = sample.Jobs(1, now)[0]
	j.Card.Name += "\x07"
	err = j.ValidateAt(now)
	if err == nil || strings.Contains(err.Error(), "Zofia") {
		t.Errorf("error %v quotes the name", err)
	}
}
