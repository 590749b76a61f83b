package sample_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// expectation is one entry of testdata/jobs/bad/expected.json.
type expectation struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
}

// badCase makes one invalid job from a valid one.
type badCase struct {
	file  string
	field string
	rule  string
	// edit changes a fresh valid job; raw, if set, then edits its body.
	edit func(j *job.Job)
	raw  func(b []byte) []byte
}

func photo(b []byte) func(*job.Job) {
	return func(j *job.Job) { j.Card.Photo = base64.StdEncoding.EncodeToString(b) }
}

func replace(old, new string) func([]byte) []byte {
	return func(b []byte) []byte {
		if !bytes.Contains(b, []byte(old)) {
			panic("bad case: body lacks " + old)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
}

func asReprint(j *job.Job) {
	j.Kind = job.KindReprint
	j.Card.Issue = 2
	j.Reprint = &job.Reprint{OfJob: "0b7e3f1c-2a4d-4e5f-8a9b-0c1d2e3f4a5b", Reason: "lost", RequestedBy: sample.RequestedBy}
}

// badCases covers every rule of the v1 contract at least once.
var badCases = []badCase{
	{file: "v-2.json", field: "v", rule: job.RuleV, edit: func(j *job.Job) { j.V = 2 }},
	{file: "v-missing.json", field: "v", rule: job.RuleV, raw: replace(`"v":1,`, ``)},
	{file: "v-string.json", field: "v", rule: "must be a JSON integer", raw: replace(`"v":1`, `"v":"1"`)},
	{file: "job_id-missing.json", field: "job_id", rule: job.RuleUUID, edit: func(j *job.Job) { j.ID = "" }},
	{file: "job_id-uppercase.json", field: "job_id", rule: job.RuleUUID, edit: func(j *job.Job) { j.ID = strings.ToUpper(j.ID) }},
	{file: "job_id-braces.json", field: "job_id", rule: job.RuleUUID, edit: func(j *job.Job) { j.ID = "{" + j.ID + "}" }},
	{file: "job_id-nil.json", field: "job_id", rule: job.RuleUUID, edit: func(j *job.Job) { j.ID = "00000000-0000-0000-0000-000000000000" }},
	{file: "kind-unknown.json", field: "kind", rule: job.RuleKind, edit: func(j *job.Job) { j.Kind = "renew" }},
	{file: "number-lowercase.json", field: "card.number", rule: job.RuleNumber, edit: func(j *job.Job) { j.Card.Number = "sample-000001" }},
	{file: "number-short.json", field: "card.number", rule: job.RuleNumber, edit: func(j *job.Job) { j.Card.Number = "AB1" }},
	{file: "number-long.json", field: "card.number", rule: job.RuleNumber, edit: func(j *job.Job) { j.Card.Number = strings.Repeat("A", 25) }},
	{file: "issue-not-1.json", field: "card.issue", rule: job.RuleIssueFirst, edit: func(j *job.Job) { j.Card.Issue = 2 }},
	{file: "issue-reprint-1.json", field: "card.issue", rule: job.RuleIssueAgain, edit: func(j *job.Job) { asReprint(j); j.Card.Issue = 1 }},
	{file: "issue-float.json", field: "card.issue", rule: "must be a JSON integer", raw: replace(`"issue":1`, `"issue":1.5`)},
	{file: "name-empty.json", field: "card.name", rule: job.RuleNameLen, edit: func(j *job.Job) { j.Card.Name = "" }},
	{file: "name-81.json", field: "card.name", rule: job.RuleNameLen, edit: func(j *job.Job) { j.Card.Name = strings.Repeat("Ę", 81) }},
	{file: "name-control.json", field: "card.name", rule: job.RulePrintable, edit: func(j *job.Job) { j.Card.Name = "Zofia\aPróbna" }},
	{file: "name-newline.json", field: "card.name", rule: job.RulePrintable, edit: func(j *job.Job) { j.Card.Name = "Zofia\nPróbna" }},
	{file: "name-bidi-override.json", field: "card.name", rule: job.RulePrintable, edit: func(j *job.Job) { j.Card.Name = "Zofia \u202eanbórP" }},
	{file: "name-nbsp.json", field: "card.name", rule: job.RulePrintable, edit: func(j *job.Job) { j.Card.Name = "Zofia\u00a0Próbna" }},
	{file: "name-trailing-space.json", field: "card.name", rule: job.RuleSpaces, edit: func(j *job.Job) { j.Card.Name = "Zofia Próbna " }},
	{file: "dob-feb-30.json", field: "card.dob", rule: job.RuleDate, edit: func(j *job.Job) { j.Card.DOB = "1990-02-30" }},
	{file: "dob-format.json", field: "card.dob", rule: job.RuleDate, edit: func(j *job.Job) { j.Card.DOB = "15/01/1990" }},
	{file: "dob-future.json", field: "card.dob", rule: job.RuleDOBFuture, edit: func(j *job.Job) { j.Card.DOB = "2027-01-01" }},
	{file: "gender-empty.json", field: "card.gender", rule: job.RuleGenderLen, edit: func(j *job.Job) { j.Card.Gender = "" }},
	{file: "gender-25.json", field: "card.gender", rule: job.RuleGenderLen, edit: func(j *job.Job) { j.Card.Gender = strings.Repeat("x", 25) }},
	{file: "gender-tab.json", field: "card.gender", rule: job.RulePrintable, edit: func(j *job.Job) { j.Card.Gender = "Non\tbinary" }},
	{file: "issued-month-13.json", field: "card.issued", rule: job.RuleDate, edit: func(j *job.Job) { j.Card.Issued = "2026-13-01" }},
	{file: "expires-missing.json", field: "card.expires", rule: job.RuleDate, edit: func(j *job.Job) { j.Card.Expires = "" }},
	{file: "expires-before-issued.json", field: "card.expires", rule: job.RuleExpires, edit: func(j *job.Job) { j.Card.Expires = "2026-01-14" }},
	{file: "photo-empty.json", field: "card.photo", rule: job.RulePhotoEmpty, edit: func(j *job.Job) { j.Card.Photo = "" }},
	{file: "photo-too-big.json", field: "card.photo", rule: job.RulePhotoSize, edit: func(j *job.Job) { j.Card.Photo = strings.Repeat("AAAA", 128<<10+1) }},
	{file: "photo-not-base64.json", field: "card.photo", rule: job.RuleBase64, edit: func(j *job.Job) { j.Card.Photo = "not base64!" }},
	{file: "photo-url-base64.json", field: "card.photo", rule: job.RuleBase64, edit: func(j *job.Job) {
		j.Card.Photo = base64.URLEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n\xfb\xff\xfe"))
	}},
	{file: "photo-line-breaks.json", field: "card.photo", rule: job.RuleBase64, edit: func(j *job.Job) { j.Card.Photo = j.Card.Photo[:76] + "\n" + j.Card.Photo[76:] }},
	{file: "photo-gif.json", field: "card.photo", rule: job.RulePhotoFormat, edit: photo([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))},
	{file: "photo-png-bad-header.json", field: "card.photo", rule: job.RulePhotoHeader, edit: photo([]byte("\x89PNG\r\n\x1a\nnot a chunk at all"))},
	{file: "photo-png-20000x20000.json", field: "card.photo", rule: job.RulePhotoPixels, edit: photo(sample.HugePNGHeader(20000, 20000))},
	{file: "photo-jpeg-20000x20000.json", field: "card.photo", rule: job.RulePhotoPixels, edit: photo(sample.HugeJPEGHeader(20000, 20000))},
	{file: "photo-png-4097x1.json", field: "card.photo", rule: job.RulePhotoPixels, edit: photo(sample.HugePNGHeader(4097, 1))},
	{file: "photo-png-truncated.json", field: "card.photo", rule: job.RulePhotoBroken, edit: photo(sample.Truncated(sample.Photo(0)))},
	{file: "photo-jpeg-truncated.json", field: "card.photo", rule: job.RulePhotoBroken, edit: photo(sample.Truncated(sample.Photo(1)))},
	{file: "template-empty.json", field: "template", rule: job.RuleTemplate, edit: func(j *job.Job) { j.Template = "" }},
	{file: "template-path.json", field: "template", rule: job.RuleTemplate, edit: func(j *job.Job) { j.Template = "../etc/passwd" }},
	{file: "reprint-missing.json", field: "reprint", rule: job.RuleReprintReq, edit: func(j *job.Job) { asReprint(j); j.Reprint = nil }},
	{file: "reprint-on-issue.json", field: "reprint", rule: job.RuleReprintNo, edit: func(j *job.Job) { asReprint(j); j.Kind = job.KindIssue; j.Card.Issue = 1 }},
	{file: "reprint-of_job-bad.json", field: "reprint.of_job", rule: job.RuleUUID, edit: func(j *job.Job) { asReprint(j); j.Reprint.OfJob = "last-week" }},
	{file: "reprint-of_job-self.json", field: "reprint.of_job", rule: job.RuleOfJobSelf, edit: func(j *job.Job) { asReprint(j); j.Reprint.OfJob = j.ID }},
	{file: "reprint-reason.json", field: "reprint.reason", rule: job.RuleReason, edit: func(j *job.Job) { asReprint(j); j.Reprint.Reason = "bored" }},
	{file: "reprint-requested_by-empty.json", field: "reprint.requested_by", rule: job.RuleRequestedBy, edit: func(j *job.Job) { asReprint(j); j.Reprint.RequestedBy = "" }},
	{file: "reprint-requested_by-65.json", field: "reprint.requested_by", rule: job.RuleRequestedBy, edit: func(j *job.Job) { asReprint(j); j.Reprint.RequestedBy = strings.Repeat("c", 65) }},
	{file: "unknown-field.json", field: "body", rule: job.RuleUnknown, raw: replace(`{"v":1,`, `{"v":1,"address":"1 Sample Street",`)},
	{file: "unknown-card-field.json", field: "card", rule: job.RuleUnknown, raw: replace(`"card":{`, `"card":{"ssn":"000-00-0000",`)},
	{file: "wrong-case.json", field: "job_id", rule: job.RuleCase, raw: replace(`"job_id"`, `"Job_ID"`)},
	{file: "duplicate-name.json", field: "card.name", rule: job.RuleDuplicate, raw: replace(`"name":`, `"name":"Alex Sampleton","name":`)},
	{file: "trailing-data.json", field: "body", rule: job.RuleTrailing, raw: func(b []byte) []byte { return append(b, "}"...) }},
	{file: "two-objects.json", field: "body", rule: job.RuleTrailing, raw: func(b []byte) []byte { return append(b, `{"v":1}`...) }},
	{file: "not-object.json", field: "body", rule: job.RuleObject, raw: func(b []byte) []byte { return append(append([]byte("["), b...), ']') }},
	{file: "syntax-error.json", field: "body", rule: "must be valid JSON (syntax error at byte 7)", raw: replace(`"v":1,`, `"v":1,,`)},
	{file: "truncated-body.json", field: "body", rule: "must be one complete JSON object", raw: func(b []byte) []byte { return b[:len(b)/2] }},
	{file: "empty.json", field: "body", rule: "must be one complete JSON object", raw: func([]byte) []byte { return nil }},
	{file: "invalid-utf8.json", field: "body", rule: job.RuleUTF8, raw: replace("Zofia", "Zof\xffa")},
}

// badBody builds the body of one bad case from sample job 0.
func badBody(c badCase) []byte {
	j := sample.Jobs(1, fixtureDay)[0]
	if c.edit != nil {
		c.edit(j)
	}
	b := sample.Body(j)
	if c.raw != nil {
		b = c.raw(b)
	}
	return b
}

// TestTestdataBadJobs checks that testdata/jobs/bad holds one file per bad
// case and that each is refused with the expected field and rule; with
// -update it rewrites the files and expected.json.
func TestTestdataBadJobs(t *testing.T) {
	dir := filepath.Join(root, "testdata", "jobs", "bad")
	want := map[string]expectation{}
	for _, c := range badCases {
		want[c.file] = expectation{c.field, c.rule}
	}
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for _, c := range badCases {
			writeFile(t, filepath.Join(dir, c.file), badBody(c))
		}
		exp, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "expected.json"), append(exp, '\n'))
	}
	expBytes, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatalf("%v (run go test ./queue/job/sample -update)", err)
	}
	var got map[string]expectation
	if err := json.Unmarshal(expBytes, &got); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("expected.json has %d entries, the table %d; run go test ./queue/job/sample -update", len(got), len(want))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != len(want)+1 {
		t.Errorf("%s holds %d files, want %d bad jobs and expected.json", dir, len(files), len(want))
	}
	for _, c := range badCases {
		t.Run(c.file, func(t *testing.T) {
			if got[c.file] != want[c.file] {
				t.Errorf("expected.json says %+v, the table %+v", got[c.file], want[c.file])
			}
			body, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, badBody(c)) {
				t.Errorf("file differs from the table; run go test ./queue/job/sample -update")
			}
			_, err = job.ParseAt(body, fixtureDay)
			var fe *job.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseAt: %v, want a *job.FieldError", err)
			}
			if fe.Field != c.field || fe.Rule != c.rule {
				t.Errorf("ParseAt: field %q rule %q, want field %q rule %q", fe.Field, fe.Rule, c.field, c.rule)
			}
		})
	}
	// Every rule constant is covered by at least one bad job.
	for _, r := range allRules {
		if !slices.ContainsFunc(badCases, func(c badCase) bool { return c.rule == r }) {
			t.Errorf("no bad job breaks the rule %q", r)
		}
	}
}

var allRules = []string{
	job.RuleV, job.RuleUUID, job.RuleKind, job.RuleNumber, job.RuleIssueFirst, job.RuleIssueAgain,
	job.RuleNameLen, job.RuleGenderLen, job.RulePrintable, job.RuleSpaces, job.RuleDate, job.RuleDOBFuture,
	job.RuleExpires, job.RulePhotoEmpty, job.RulePhotoSize, job.RuleBase64, job.RulePhotoFormat,
	job.RulePhotoHeader, job.RulePhotoPixels, job.RulePhotoBroken, job.RuleTemplate, job.RuleReprintReq,
	job.RuleReprintNo, job.RuleOfJobSelf, job.RuleReason, job.RuleRequestedBy, job.RuleUTF8,
	job.RuleObject, job.RuleTrailing, job.RuleUnknown, job.RuleCase, job.RuleDuplicate,
}
