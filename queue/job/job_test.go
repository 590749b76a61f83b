package job_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	isample "github.com/cityid/printerd/internal/sample"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// now is the test clock: 2026-01-15 09:00 UTC.
var now = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

const testdata = "../../testdata"

func validJob() *job.Job { return sample.Jobs(1, now)[0] }

func validReprint() *job.Job { return sample.Reprint(validJob(), job.ReasonLost) }

func pngOf(w, h int) string {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// TestValidateAt checks each rule on a Job built in code, with the
// boundaries on both sides. field "" means the job must be valid.
func TestValidateAt(t *testing.T) {
	tests := []struct {
		name  string
		base  func() *job.Job
		edit  func(j *job.Job)
		field string
		rule  string
	}{
		{"sample issue", validJob, func(*job.Job) {}, "", ""},
		{"sample reprint", validReprint, func(*job.Job) {}, "", ""},
		{"v 0", validJob, func(j *job.Job) { j.V = 0 }, "v", job.RuleV},
		{"v 2", validJob, func(j *job.Job) { j.V = 2 }, "v", job.RuleV},
		{"job_id empty", validJob, func(j *job.Job) { j.ID = "" }, "job_id", job.RuleUUID},
		{"job_id upper", validJob, func(j *job.Job) { j.ID = strings.ToUpper(j.ID) }, "job_id", job.RuleUUID},
		{"job_id urn", validJob, func(j *job.Job) { j.ID = "urn:uuid:" + j.ID }, "job_id", job.RuleUUID},
		{"job_id no hyphens", validJob, func(j *job.Job) { j.ID = strings.ReplaceAll(j.ID, "-", "") }, "job_id", job.RuleUUID},
		{"job_id nil", validJob, func(j *job.Job) { j.ID = "00000000-0000-0000-0000-000000000000" }, "job_id", job.RuleUUID},
		{"job_id v4", validJob, func(j *job.Job) { j.ID = "9b2e6c1a-3f4d-4a5b-8c6d-7e8f9a0b1c2d" }, "", ""},
		{"kind empty", validJob, func(j *job.Job) { j.Kind = "" }, "kind", job.RuleKind},
		{"kind Issue", validJob, func(j *job.Job) { j.Kind = "Issue" }, "kind", job.RuleKind},
		{"number 4", validJob, func(j *job.Job) { j.Card.Number = "AB-1" }, "", ""},
		{"number 24", validJob, func(j *job.Job) { j.Card.Number = strings.Repeat("9", 24) }, "", ""},
		{"number 3", validJob, func(j *job.Job) { j.Card.Number = "AB1" }, "card.number", job.RuleNumber},
		{"number 25", validJob, func(j *job.Job) { j.Card.Number = strings.Repeat("9", 25) }, "card.number", job.RuleNumber},
		{"number space", validJob, func(j *job.Job) { j.Card.Number = "AB 12" }, "card.number", job.RuleNumber},
		{"number lower", validJob, func(j *job.Job) { j.Card.Number = "ab12" }, "card.number", job.RuleNumber},
		{"issue 2 on issue", validJob, func(j *job.Job) { j.Card.Issue = 2 }, "card.issue", job.RuleIssueFirst},
		{"issue 0", validJob, func(j *job.Job) { j.Card.Issue = 0 }, "card.issue", job.RuleIssueFirst},
		{"reprint issue 1", validReprint, func(j *job.Job) { j.Card.Issue = 1 }, "card.issue", job.RuleIssueAgain},
		{"reprint issue 7", validReprint, func(j *job.Job) { j.Card.Issue = 7 }, "", ""},
		{"name 1", validJob, func(j *job.Job) { j.Card.Name = "Ø" }, "", ""},
		{"name 80", validJob, func(j *job.Job) { j.Card.Name = strings.Repeat("ą", 80) }, "", ""},
		{"name 81", validJob, func(j *job.Job) { j.Card.Name = strings.Repeat("ą", 81) }, "card.name", job.RuleNameLen},
		{"name empty", validJob, func(j *job.Job) { j.Card.Name = "" }, "card.name", job.RuleNameLen},
		{"name NFD", validJob, func(j *job.Job) { j.Card.Name = "Zofia Pro\u0301bna" }, "card.name", job.RuleNFC},
		{"name combining kept by NFC", validJob, func(j *job.Job) { j.Card.Name = "Q\u0323\u0304uinn" }, "", ""},
		{"name NUL", validJob, func(j *job.Job) { j.Card.Name = "Zofia\x00" }, "card.name", job.RulePrintable},
		{"name DEL", validJob, func(j *job.Job) { j.Card.Name = "Zofia\x7f" }, "card.name", job.RulePrintable},
		{"name C1 control", validJob, func(j *job.Job) { j.Card.Name = "Zofia\u0085" }, "card.name", job.RulePrintable},
		{"name zero width joiner", validJob, func(j *job.Job) { j.Card.Name = "Zo\u200dfia" }, "card.name", job.RulePrintable},
		{"name RTL override", validJob, func(j *job.Job) { j.Card.Name = "\u202eZofia" }, "card.name", job.RulePrintable},
		{"name line separator", validJob, func(j *job.Job) { j.Card.Name = "Zofia\u2028X" }, "card.name", job.RulePrintable},
		{"name invalid UTF-8", validJob, func(j *job.Job) { j.Card.Name = "Zof\xffa" }, "card.name", job.RulePrintable},
		{"name leading space", validJob, func(j *job.Job) { j.Card.Name = " Zofia" }, "card.name", job.RuleSpaces},
		{"name only space", validJob, func(j *job.Job) { j.Card.Name = " " }, "card.name", job.RuleSpaces},
		{"name inner apostrophe", validJob, func(j *job.Job) { j.Card.Name = "Ō'Tester d'Exemple" }, "", ""},
		{"dob feb 29 leap", validJob, func(j *job.Job) { j.Card.DOB = "2004-02-29" }, "", ""},
		{"dob feb 29 non-leap", validJob, func(j *job.Job) { j.Card.DOB = "2003-02-29" }, "card.dob", job.RuleDate},
		{"dob no padding", validJob, func(j *job.Job) { j.Card.DOB = "1990-1-5" }, "card.dob", job.RuleDate},
		{"dob with time", validJob, func(j *job.Job) { j.Card.DOB = "1990-01-05T00:00:00Z" }, "card.dob", job.RuleDate},
		{"dob empty", validJob, func(j *job.Job) { j.Card.DOB = "" }, "card.dob", job.RuleDate},
		{"dob today", validJob, func(j *job.Job) { j.Card.DOB = "2026-01-15" }, "", ""},
		// 09:00 UTC is 23:00 in UTC+14: still the 15th everywhere.
		{"dob tomorrow", validJob, func(j *job.Job) { j.Card.DOB = "2026-01-16" }, "card.dob", job.RuleDOBFuture},
		{"gender 24", validJob, func(j *job.Job) { j.Card.Gender = strings.Repeat("ş", 24) }, "", ""},
		{"gender 25", validJob, func(j *job.Job) { j.Card.Gender = strings.Repeat("ş", 25) }, "card.gender", job.RuleGenderLen},
		{"gender empty", validJob, func(j *job.Job) { j.Card.Gender = "" }, "card.gender", job.RuleGenderLen},
		{"gender NFD", validJob, func(j *job.Job) { j.Card.Gender = "Fe\u0301minine" }, "card.gender", job.RuleNFC},
		{"gender control", validJob, func(j *job.Job) { j.Card.Gender = "F\x1b[31m" }, "card.gender", job.RulePrintable},
		{"gender two-spirit", validJob, func(j *job.Job) { j.Card.Gender = "Two-Spirit" }, "", ""},
		{"issued bad", validJob, func(j *job.Job) { j.Card.Issued = "2026-02-30" }, "card.issued", job.RuleDate},
		{"expires bad", validJob, func(j *job.Job) { j.Card.Expires = "31-01-2031" }, "card.expires", job.RuleDate},
		{"expires = issued", validJob, func(j *job.Job) { j.Card.Expires = j.Card.Issued }, "", ""},
		{"expires < issued", validJob, func(j *job.Job) { j.Card.Expires = "2026-01-14" }, "card.expires", job.RuleExpires},
		{"name Braille blank only", validJob, func(j *job.Job) { j.Card.Name = "\u2800\u2800" }, "card.name", job.RuleVisible},
		{"name Hangul filler only", validJob, func(j *job.Job) { j.Card.Name = "\u3164" }, "card.name", job.RuleVisible},
		{"name choseong filler only", validJob, func(j *job.Job) { j.Card.Name = "\u115f\u1160" }, "card.name", job.RuleVisible},
		{"name halfwidth filler only", validJob, func(j *job.Job) { j.Card.Name = "\uffa0" }, "card.name", job.RuleVisible},
		{"name variation selectors only", validJob, func(j *job.Job) { j.Card.Name = "\ufe0f\ufe0e" }, "card.name", job.RuleVisible},
		{"name combining grapheme joiner only", validJob, func(j *job.Job) { j.Card.Name = "\u034f" }, "card.name", job.RuleVisible},
		{"name zero width space", validJob, func(j *job.Job) { j.Card.Name = "Zo\u200bfia" }, "card.name", job.RulePrintable},
		{"name filler and space", validJob, func(j *job.Job) { j.Card.Name = "\u3164 \u3164" }, "card.name", job.RuleVisible},
		{"name Hangul filler inside a name", validJob, func(j *job.Job) { j.Card.Name = "Ana\u3164Lee" }, "card.name", job.RuleVisible},
		{"name replacement character", validJob, func(j *job.Job) { j.Card.Name = "Zo\ufffdfia" }, "card.name", job.RuleReplacement},
		{"gender replacement character", validJob, func(j *job.Job) { j.Card.Gender = "\ufffd" }, "card.gender", job.RuleReplacement},
		{"gender Braille blank", validJob, func(j *job.Job) { j.Card.Gender = "\u2800" }, "card.gender", job.RuleVisible},
		{"name Hangul syllables", validJob, func(j *job.Job) { j.Card.Name = "김민준" }, "", ""},
		{"dob year 0", validJob, func(j *job.Job) { j.Card.DOB = "0000-01-01" }, "card.dob", job.RuleDateRange},
		{"dob 1899", validJob, func(j *job.Job) { j.Card.DOB = "1899-12-31" }, "card.dob", job.RuleDateRange},
		{"dob 1900", validJob, func(j *job.Job) { j.Card.DOB = "1900-01-01" }, "", ""},
		{"issued year 0", validJob, func(j *job.Job) { j.Card.Issued = "0000-01-01" }, "card.dob", job.RuleDOBIssued}, // the birth date's rules come first
		{"issued 1969", validJob, func(j *job.Job) { j.Card.Issued = "1969-12-31"; j.Card.DOB = "1950-01-01" }, "card.issued", job.RuleIssuedRange},
		{"dob after issued", validJob, func(j *job.Job) { j.Card.DOB = "2026-01-15"; j.Card.Issued = "2026-01-14" }, "card.dob", job.RuleDOBIssued},
		{"expired before printing", validJob, func(j *job.Job) { j.Card.Issued = "2020-01-01"; j.Card.Expires = "2026-01-13" }, "card.expires", job.RuleExpired},
		// 09:00 UTC is 21:00 on the 14th in UTC-12: a card expiring on
		// the 14th is still valid somewhere.
		{"expires yesterday UTC", validJob, func(j *job.Job) { j.Card.Issued = "2020-01-01"; j.Card.Expires = "2026-01-14" }, "", ""},
		{"issued in 31 days", validJob, func(j *job.Job) { j.Card.Issued = "2026-02-15"; j.Card.Expires = "2036-02-15" }, "", ""},
		{"issued far in the future", validJob, func(j *job.Job) { j.Card.Issued = "2027-01-15"; j.Card.Expires = "2037-01-15" }, "card.issued", job.RuleIssuedFuture},
		{"expires 9999", validJob, func(j *job.Job) { j.Card.Expires = "9999-12-31" }, "", ""},
		{"template 64", validJob, func(j *job.Job) { j.Template = strings.Repeat("a", 64) }, "", ""},
		{"template 65", validJob, func(j *job.Job) { j.Template = strings.Repeat("a", 65) }, "template", job.RuleTemplate},
		{"template empty", validJob, func(j *job.Job) { j.Template = "" }, "template", job.RuleTemplate},
		{"template upper", validJob, func(j *job.Job) { j.Template = "Municipal-ID" }, "template", job.RuleTemplate},
		{"template slash", validJob, func(j *job.Job) { j.Template = "a/b" }, "template", job.RuleTemplate},
		{"reprint on issue", validJob, func(j *job.Job) { j.Reprint = &job.Reprint{} }, "reprint", job.RuleReprintNo},
		{"reprint missing", validReprint, func(j *job.Job) { j.Reprint = nil }, "reprint", job.RuleReprintReq},
		{"of_job empty", validReprint, func(j *job.Job) { j.Reprint.OfJob = "" }, "reprint.of_job", job.RuleUUID},
		{"of_job self", validReprint, func(j *job.Job) { j.Reprint.OfJob = j.ID }, "reprint.of_job", job.RuleOfJobSelf},
		{"reason empty", validReprint, func(j *job.Job) { j.Reprint.Reason = "" }, "reprint.reason", job.RuleReason},
		{"reason upper", validReprint, func(j *job.Job) { j.Reprint.Reason = "Lost" }, "reprint.reason", job.RuleReason},
		{"reason spoiled", validReprint, func(j *job.Job) { j.Reprint.Reason = job.ReasonSpoiled }, "", ""},
		{"reason name-change", validReprint, func(j *job.Job) { j.Reprint.Reason = job.ReasonNameChange }, "", ""},
		{"requested_by 64", validReprint, func(j *job.Job) { j.Reprint.RequestedBy = strings.Repeat("c", 64) }, "", ""},
		{"requested_by 65", validReprint, func(j *job.Job) { j.Reprint.RequestedBy = strings.Repeat("c", 65) }, "reprint.requested_by", job.RuleRequestedBy},
		{"requested_by empty", validReprint, func(j *job.Job) { j.Reprint.RequestedBy = "" }, "reprint.requested_by", job.RuleRequestedBy},
		{"requested_by newline", validReprint, func(j *job.Job) { j.Reprint.RequestedBy = "clerk\n7" }, "reprint.requested_by", job.RuleRequestedBy},
		{"photo jpeg", validJob, func(j *job.Job) { j.Card.Photo = base64.StdEncoding.EncodeToString(sample.Photo(1)) }, "", ""},
		{"photo 4096x1", validJob, func(j *job.Job) { j.Card.Photo = pngOf(4096, 1) }, "", ""},
		{"photo 1x4096", validJob, func(j *job.Job) { j.Card.Photo = pngOf(1, 4096) }, "", ""},
		{"photo 4097x1", validJob, func(j *job.Job) { j.Card.Photo = pngOf(4097, 1) }, "card.photo", job.RulePhotoPixels},
		{"photo 1x4097", validJob, func(j *job.Job) { j.Card.Photo = pngOf(1, 4097) }, "card.photo", job.RulePhotoPixels},
		{"photo 20000x20000 header", validJob, func(j *job.Job) {
			j.Card.Photo = base64.StdEncoding.EncodeToString(sample.HugePNGHeader(20000, 20000))
		}, "card.photo", job.RulePhotoPixels},
		{"photo 0x0 header", validJob, func(j *job.Job) {
			j.Card.Photo = base64.StdEncoding.EncodeToString(sample.HugePNGHeader(0, 0))
		}, "card.photo", job.RulePhotoHeader},
		{"photo 512 KiB", validJob, func(j *job.Job) {
			j.Card.Photo = padPNG(job.MaxPhotoBase64)
		}, "", ""},
		{"photo 512 KiB + 4", validJob, func(j *job.Job) {
			j.Card.Photo = padPNG(job.MaxPhotoBase64 + 4)
		}, "card.photo", job.RulePhotoSize},
		{"photo bad padding bits", validJob, func(j *job.Job) { j.Card.Photo = "iVBORw0KGgp=" }, "card.photo", job.RuleBase64},
		{"photo unpadded", validJob, func(j *job.Job) { j.Card.Photo = strings.TrimRight(j.Card.Photo, "=") + "A" }, "card.photo", job.RuleBase64},
		{"photo CRLF", validJob, func(j *job.Job) { j.Card.Photo = j.Card.Photo[:4] + "\r\n" + j.Card.Photo[4:] }, "card.photo", job.RuleBase64},
		{"photo bmp", validJob, func(j *job.Job) { j.Card.Photo = base64.StdEncoding.EncodeToString([]byte("BM\x00\x00\x00\x00")) }, "card.photo", job.RulePhotoFormat},
		{"photo truncated png", validJob, func(j *job.Job) {
			j.Card.Photo = base64.StdEncoding.EncodeToString(sample.Truncated(sample.Photo(0)))
		}, "card.photo", job.RulePhotoBroken},
		{"photo header-only jpeg", validJob, func(j *job.Job) {
			j.Card.Photo = base64.StdEncoding.EncodeToString(sample.HugeJPEGHeader(100, 100))
		}, "card.photo", job.RulePhotoBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := tt.base()
			tt.edit(j)
			err := j.ValidateAt(now)
			checkField(t, err, tt.field, tt.rule)
			// The same job as a body must give the same answer, except
			// where Parse first normalises to NFC, or where json.Marshal
			// has replaced invalid UTF-8 by U+FFFD.
			if tt.rule == job.RuleNFC || !utf8.ValidString(j.Card.Name) {
				return
			}
			_, err = job.ParseAt(sample.Body(j), now)
			checkField(t, err, tt.field, tt.rule)
		})
	}
}

// padPNG returns base64 of exactly n characters: a valid PNG followed by
// zero bytes (decoders ignore what follows IEND).
func padPNG(n int) string {
	p := sample.Photo(0)
	raw := n / 4 * 3
	p = append(p, make([]byte, raw-len(p))...)
	return base64.StdEncoding.EncodeToString(p)
}

func checkField(t *testing.T, err error, field, rule string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("want valid, got %v", err)
		}
		return
	}
	var fe *job.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want *job.FieldError %s: %s", err, field, rule)
	}
	if fe.Field != field || fe.Rule != rule {
		t.Fatalf("got %s: %s; want %s: %s", fe.Field, fe.Rule, field, rule)
	}
	if err.Error() != "job: "+field+": "+rule {
		t.Errorf("message %q does not read job: field: rule", err.Error())
	}
}

func TestDOBTimeZones(t *testing.T) {
	j := validJob()
	j.Card.DOB = "2026-01-16"
	j.Card.Issued = "2026-01-16" // a card issued on the day of birth, in Kiribati
	// 10:00 UTC on the 15th is already the 16th in UTC+14 (Kiribati).
	if err := j.ValidateAt(time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)); err != nil {
		t.Errorf("born today in UTC+14 refused: %v", err)
	}
	// The clock's own time zone does not matter.
	kiritimati := time.FixedZone("UTC+14", 14*3600)
	if err := j.ValidateAt(time.Date(2026, 1, 15, 23, 0, 0, 0, kiritimati)); err == nil {
		t.Error("birth date after today everywhere accepted")
	}
}

func TestParseNormalizesNFC(t *testing.T) {
	j := validJob()
	// 79 letters + e + combining acute: 81 code points, 80 after NFC.
	nfd := strings.Repeat("a", 79) + "e\u0301"
	j.Card.Name = nfd
	j.Card.Gender = "Fe\u0301minine"
	got, err := job.ParseAt(sample.Body(j), now)
	if err != nil {
		t.Fatalf("ParseAt of an NFD name that is 80 characters in NFC: %v", err)
	}
	if got.Card.Name != strings.Repeat("a", 79)+"é" || got.Card.Gender != "Féminine" {
		t.Error("Parse did not normalise name and gender to NFC")
	}
	if err := got.ValidateAt(now); err != nil {
		t.Errorf("parsed job does not validate: %v", err)
	}
}

// TestParseLoneSurrogate: a lone UTF-16 surrogate escaped in the JSON
// (valid UTF-8 bytes, "\ud800") is decoded by encoding/json as U+FFFD; the
// name it leaves would print a replacement box, so it is refused.
func TestParseLoneSurrogate(t *testing.T) {
	for _, esc := range []string{`\ud800`, `\udfff`, `\ud83d`} {
		j := validJob()
		j.Card.Name = "ZOFIA-MARKER"
		body := strings.Replace(string(sample.Body(j)), "ZOFIA-MARKER", "Zofia"+esc, 1)
		_, err := job.ParseAt([]byte(body), now)
		var fe *job.FieldError
		if !errors.As(err, &fe) || fe.Field != "card.name" || fe.Rule != job.RuleReplacement {
			t.Errorf("name with %s: %v; want card.name %q", esc, err, job.RuleReplacement)
		}
	}
}

// TestPhotoDecodeBudget: the decoded size (width x height x bytes a pixel,
// from the header) is bounded before decoding: a 16-bit RGBA 4096x4096
// PNG (128 MiB decoded from a few KB) is refused by its header; at
// 2896x2896 it is within the budget and goes on to the decode.
func TestPhotoDecodeBudget(t *testing.T) {
	for _, tc := range []struct {
		w, h        uint32
		depth, kind byte
		rule        string
	}{
		{4096, 4096, 16, 6, job.RulePhotoDepth},
		{4096, 4096, 16, 2, job.RulePhotoDepth},
		{2896, 2896, 16, 6, job.RulePhotoBroken}, // within the budget: decoded, and truncated
		{4096, 4096, 8, 6, job.RulePhotoBroken},  // 8-bit RGBA at the contract's limit: 64 MiB
	} {
		j := validJob()
		j.Card.Photo = base64.StdEncoding.EncodeToString(isample.PNGHeader(tc.w, tc.h, tc.depth, tc.kind))
		err := j.ValidateAt(now)
		var fe *job.FieldError
		if !errors.As(err, &fe) || fe.Field != "card.photo" || fe.Rule != tc.rule {
			t.Errorf("%dx%d %d-bit colour type %d: %v; want card.photo %q", tc.w, tc.h, tc.depth, tc.kind, err, tc.rule)
		}
	}
}

func TestParseBodyLimits(t *testing.T) {
	big := bytes.Repeat([]byte(" "), job.MaxBody+1)
	_, err := job.ParseAt(big, now)
	checkField(t, err, "body", job.RuleBodySize)
	// Trailing white space is fine (files end with a newline).
	_, err = job.ParseAt(append(sample.Body(validJob()), " \n\t"...), now)
	checkField(t, err, "", "")
}

func TestParseWrongTypes(t *testing.T) {
	body := string(sample.Body(validJob()))
	tests := []struct{ old, new, field, rule string }{
		{`"v":1`, `"v":"1"`, "v", "must be a JSON integer"},
		{`"v":1`, `"v":1e0`, "v", "must be a JSON integer"},
		{`"kind":"issue"`, `"kind":7`, "kind", "must be a JSON string"},
		{`"name":"`, `"name":["x"],"x":"`, "card.name", "must be a JSON string"},
		{`"issue":1`, `"issue":"1"`, "card.issue", "must be a JSON integer"},
		{`"v":1,`, `"v":1,"reprint":"lost",`, "reprint", "must be a JSON object"},
		{`"v":1,`, `"v":1,"reprint":null,`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.new, func(t *testing.T) {
			_, err := job.ParseAt([]byte(strings.Replace(body, tt.old, tt.new, 1)), now)
			if tt.field == "card.name" { // the unknown "x" is found first
				checkField(t, err, "card", job.RuleUnknown)
				return
			}
			checkField(t, err, tt.field, tt.rule)
		})
	}
}

func TestPhotoBytes(t *testing.T) {
	j := validJob()
	b, err := j.Card.PhotoBytes()
	if err != nil || !bytes.Equal(b, sample.Photo(0)) {
		t.Fatalf("PhotoBytes: %v, same bytes as sample.Photo(0): %v", err, bytes.Equal(b, sample.Photo(0)))
	}
	j.Card.Photo = "%%%%"
	_, err = j.Card.PhotoBytes()
	checkField(t, err, "card.photo", job.RuleBase64)
}

// TestTestdata runs the shared fixtures: every good job parses, every bad
// job is refused with the field and rule expected.json names, and no
// message carries the name in the file.
func TestTestdata(t *testing.T) {
	good, _ := filepath.Glob(filepath.Join(testdata, "jobs", "*.json"))
	if len(good) < 5 {
		t.Fatalf("found %d good jobs in testdata/jobs; run go test ./queue/job/sample -update", len(good))
	}
	day := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	for _, f := range good {
		b, _ := os.ReadFile(f)
		if _, err := job.ParseAt(b, day); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	exp, err := os.ReadFile(filepath.Join(testdata, "jobs", "bad", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct{ Field, Rule string }
	if err := json.Unmarshal(exp, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) < 30 {
		t.Fatalf("expected.json lists %d bad jobs", len(want))
	}
	for file, w := range want {
		b, err := os.ReadFile(filepath.Join(testdata, "jobs", "bad", file))
		if err != nil {
			t.Fatal(err)
		}
		_, err = job.ParseAt(b, day)
		var fe *job.FieldError
		if !errors.As(err, &fe) || fe.Field != w.Field || fe.Rule != w.Rule {
			t.Errorf("%s: got %v, want %s: %s", file, err, w.Field, w.Rule)
			continue
		}
		for _, p := range sample.People {
			if strings.Contains(err.Error(), p.Name) || strings.Contains(err.Error(), p.DOB) {
				t.Errorf("%s: error message carries personal data", file)
			}
		}
	}
}

// TestPhotoImage: Parse keeps the photo it decoded to validate it, so the
// card is laid out without decoding it again; a changed photo drops it.
func TestPhotoImage(t *testing.T) {
	j := sample.Jobs(1, time.Now())[0]
	parsed, err := job.Parse(sample.Body(j))
	if err != nil {
		t.Fatal(err)
	}
	img := parsed.PhotoImage()
	want, _, err := image.Decode(bytes.NewReader(sample.Photo(0)))
	if err != nil {
		t.Fatal(err)
	}
	if img == nil || img.Bounds() != want.Bounds() {
		t.Fatalf("PhotoImage after Parse = %v, want the %v photo", img, want.Bounds())
	}
	if j.PhotoImage() != nil {
		t.Error("PhotoImage of a job never validated is not nil")
	}
	if parsed.Card != j.Card {
		t.Error("the parsed card differs from the sample's")
	}
	parsed.Card.Photo = base64.StdEncoding.EncodeToString(sample.Photo(1))
	if parsed.PhotoImage() != nil {
		t.Error("PhotoImage after the photo changed is the old image")
	}
}
