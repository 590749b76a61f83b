package job_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/epoch"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
	"github.com/cityid/printerd/queue/seal"
)

// seedBodies are the fixtures: good jobs and every bad job.
func seedBodies(f *testing.F) [][]byte {
	f.Helper()
	files, _ := filepath.Glob(filepath.Join(testdata, "jobs", "*.json"))
	bad, _ := filepath.Glob(filepath.Join(testdata, "jobs", "bad", "*.json"))
	var out [][]byte
	for _, p := range append(files, bad...) {
		if filepath.Base(p) == "expected.json" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 64<<10 { // keep the corpus small; photo-too-big is covered by a unit test
			continue
		}
		out = append(out, b)
	}
	if len(out) < 20 {
		f.Fatalf("only %d seed jobs in testdata/jobs; run go test ./queue/job/sample -update", len(out))
	}
	return out
}

// fieldRe is what FieldError.Field may be: a JSON path of the contract.
var fieldRe = regexp.MustCompile(`^(body|v|job_id|kind|template|card|reprint|card\.(number|issue|name|dob|gender|issued|expires|photo)|reprint\.(of_job|reason|requested_by))$`)

// ruleText is every fixed rule, to tell a leaked name from a name that
// happens to be a word of a rule.
var ruleText = strings.Join([]string{
	job.RuleV, job.RuleUUID, job.RuleKind, job.RuleNumber, job.RuleIssueFirst, job.RuleIssueAgain,
	job.RuleNameLen, job.RuleGenderLen, job.RulePrintable, job.RuleSpaces, job.RuleNFC, job.RuleDate,
	job.RuleDOBFuture, job.RuleExpires, job.RulePhotoEmpty, job.RulePhotoSize, job.RuleBase64,
	job.RulePhotoFormat, job.RulePhotoHeader, job.RulePhotoPixels, job.RulePhotoBroken, job.RuleTemplate,
	job.RuleReprintReq, job.RuleReprintNo, job.RuleOfJobSelf, job.RuleReason, job.RuleRequestedBy,
	job.RuleBodySize, job.RuleUTF8, job.RuleObject, job.RuleTrailing, job.RuleUnknown, job.RuleCase,
	job.RuleDuplicate, "must be a JSON integer string object", "must be valid JSON (syntax error at byte )",
	"must be one complete JSON object", "job: ",
}, " ")

// FuzzParse: no panic; any error is a *FieldError naming a contract field
// and never containing the name the input carries.
func FuzzParse(f *testing.F) {
	for _, b := range seedBodies(f) {
		f.Add(b)
	}
	// Small seeds let the fuzzer reach every rule quickly.
	small := validReprint()
	small.Card.Photo = pngOf(1, 1)
	f.Add(sample.Body(small))
	for _, s := range []string{`{}`, `[]`, `{"card":{}}`, `{"v":1,"reprint":null}`, `{"v":1,"v":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		j, err := job.ParseAt(body, now)
		if err == nil {
			if j.ValidateAt(now) != nil {
				t.Fatal("Parse returned a job that does not validate")
			}
			return
		}
		var fe *job.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("error %T %v is not a *job.FieldError", err, err)
		}
		if !fieldRe.MatchString(fe.Field) {
			t.Fatalf("field %q is not a contract field", fe.Field)
		}
		var loose struct {
			Card struct{ Name, Gender, DOB string }
		}
		_ = json.Unmarshal(body, &loose)
		for _, v := range []string{loose.Card.Name, loose.Card.Gender, loose.Card.DOB} {
			if utf8.RuneCountInString(v) >= 3 && !strings.Contains(ruleText, v) && strings.Contains(err.Error(), v) {
				t.Fatalf("error %q contains the personal value %q", err, v)
			}
		}
	})
}

// FuzzVerify: no panic, and nothing but the signed body verifies.
func FuzzVerify(f *testing.F) {
	priv, pub := newApprover(f)
	v, err := job.NewVerifier([]keyfile.Public{pub})
	if err != nil {
		f.Fatal(err)
	}
	body := sample.Body(sample.Jobs(1, now)[0])
	kid, sig, err := job.Sign(priv, body)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body, kid, sig)
	f.Add(body[:10], kid, sig)
	f.Add([]byte{}, "", "")
	f.Add(body, kid, sig[:20])
	f.Add(body, "0123456789abcdef", sig)
	f.Fuzz(func(t *testing.T, b []byte, k, s string) {
		err := v.Verify(b, k, s)
		if err == nil {
			if k != kid || string(b) != string(body) {
				t.Fatalf("a different body or key verified")
			}
			return
		}
		if !errors.Is(err, job.ErrNoApproval) && !errors.Is(err, job.ErrUnknownKey) && !errors.Is(err, job.ErrBadSignature) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

// FuzzParseEnvelope: the v2 parser never panics, and an error is always a
// FieldError that names a known field without quoting the body.
func FuzzParseEnvelope(f *testing.F) {
	st, err := epoch.Open(epoch.Options{Dir: f.TempDir() + "/epoch", KEM: seal.KEMX25519})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample.SealedFor(validJob(), "town-hall", "front-desk", now, st))
	f.Add(sample.SealedFor(validReprint(), "s", "p", now, st))
	f.Add([]byte(`{"v":2,"sealed":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := job.ParseEnvelope(body)
		if err != nil {
			var fe *job.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a FieldError: %v", err, err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("parsed envelope does not validate: %v", err)
		}
		if _, err := e.OpenAt(st, now); err == nil && e.Sealed == nil {
			t.Fatal("opened without a sealed part")
		}
	})
}
