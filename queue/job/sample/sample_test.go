package sample_test

import (
	"bytes"
	"encoding/base64"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

var today = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

func TestJobsValidAndUnique(t *testing.T) {
	jobs := sample.Jobs(25, today)
	if len(jobs) != 25 {
		t.Fatalf("Jobs(25) gave %d jobs", len(jobs))
	}
	ids, numbers := map[string]bool{}, map[string]bool{}
	for i, j := range jobs {
		got, err := job.Parse(sample.Body(j))
		if err != nil {
			t.Fatalf("job %d does not parse: %v", i, err)
		}
		if got.Card != j.Card || got.ID != j.ID || got.Kind != job.KindIssue || got.Template != "municipal-id" {
			t.Errorf("job %d changed in a Body/Parse round trip", i)
		}
		if ids[j.ID] || numbers[j.Card.Number] {
			t.Errorf("job %d: duplicate job id or card number", i)
		}
		ids[j.ID], numbers[j.Card.Number] = true, true
		if j.Card.Issue != 1 || j.Card.Issued != "2026-01-15" || j.Card.Expires != "2031-01-15" {
			t.Errorf("job %d: issue %d issued %s expires %s; want 1, 2026-01-15, 2031-01-15",
				i, j.Card.Issue, j.Card.Issued, j.Card.Expires)
		}
	}
}

func TestJobsDeterministic(t *testing.T) {
	a, b := sample.Jobs(4, today), sample.Jobs(4, today)
	for i := range a {
		if !bytes.Equal(sample.Body(a[i]), sample.Body(b[i])) {
			t.Fatalf("job %d differs between two calls", i)
		}
	}
	c := sample.Jobs(1, today.AddDate(0, 0, 1))
	if c[0].ID == a[0].ID {
		t.Error("jobs of two different days share a job id; NATS dedup would drop the second")
	}
}

func TestPeopleCoverage(t *testing.T) {
	var long, combining bool
	genders := map[string]bool{}
	for _, p := range sample.People {
		if p.Name != norm.NFC.String(p.Name) {
			t.Errorf("%s: name is not NFC; Body would differ from what Parse returns", p.Why)
		}
		n := utf8.RuneCountInString(p.Name)
		if n > 80 {
			t.Errorf("%s: name has %d characters, over 80", p.Why, n)
		}
		if n >= 70 {
			long = true
		}
		for _, r := range norm.NFC.String(p.Name) {
			if unicode.Is(unicode.Mn, r) {
				combining = true
			}
		}
		genders[p.Gender] = true
	}
	if !long {
		t.Error("no sample name of 70-80 characters")
	}
	if !combining {
		t.Error("no sample name that keeps combining marks under NFC")
	}
	for _, g := range []string{"F", "M", "X", "Non-binary", "Two-Spirit"} {
		if !genders[g] {
			t.Errorf("no sample person with gender %q", g)
		}
	}
}

func TestPhotos(t *testing.T) {
	for i := range 12 {
		b := sample.Photo(i)
		img, format, err := image.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("photo %d: %v", i, err)
		}
		want := "jpeg"
		if sample.PhotoIsPNG(i) {
			want = "png"
		}
		if format != want {
			t.Errorf("photo %d is %s, want %s", i, format, want)
		}
		if s := img.Bounds().Size(); s.X != 300 || s.Y != 400 {
			t.Errorf("photo %d is %v, want 300x400", i, s)
		}
		if n := base64.StdEncoding.EncodedLen(len(b)); n > 128<<10 {
			t.Errorf("photo %d is %d bytes base64, want well under 512 KiB", i, n)
		}
		// Not a flat fill: the cartoon has a face on a background.
		if img.At(150, 10) == img.At(150, 180) {
			t.Errorf("photo %d: background and face have the same colour", i)
		}
	}
	if !bytes.Equal(sample.Photo(3), sample.Photo(3)) {
		t.Error("Photo is not deterministic")
	}
	p := sample.Photo(0)
	p[0] = 0
	if sample.Photo(0)[0] == 0 {
		t.Error("Photo returned the cached slice; callers can corrupt it")
	}
}

func TestHugeHeaders(t *testing.T) {
	for name, b := range map[string][]byte{
		"png":  sample.HugePNGHeader(20000, 20000),
		"jpeg": sample.HugeJPEGHeader(20000, 20000),
	} {
		cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: DecodeConfig: %v", name, err)
		}
		if format != name || cfg.Width != 20000 || cfg.Height != 20000 {
			t.Errorf("%s: header says %s %dx%d", name, format, cfg.Width, cfg.Height)
		}
		if _, _, err := image.Decode(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: full decode of a header-only image succeeded", name)
		}
	}
}

func TestReprint(t *testing.T) {
	orig := sample.Jobs(1, today)[0]
	before := sample.Body(orig)
	r := sample.Reprint(orig, "lost")
	if !bytes.Equal(before, sample.Body(orig)) {
		t.Fatal("Reprint modified the original job")
	}
	got, err := job.Parse(sample.Body(r))
	if err != nil {
		t.Fatalf("reprint does not parse: %v", err)
	}
	if got.Kind != job.KindReprint || got.Card.Issue != 2 || got.ID == orig.ID ||
		got.Reprint == nil || got.Reprint.OfJob != orig.ID || got.Reprint.Reason != "lost" {
		t.Errorf("reprint: kind %s issue %d of_job ok=%v", got.Kind, got.Card.Issue, got.Reprint != nil && got.Reprint.OfJob == orig.ID)
	}
	r2 := sample.Reprint(r, "damaged")
	if r2.Card.Issue != 3 || r2.ID == r.ID || r2.Card.Number != orig.Card.Number {
		t.Errorf("second reprint: issue %d, want 3, new id, same number", r2.Card.Issue)
	}
}
