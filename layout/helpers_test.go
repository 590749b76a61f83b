package layout

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/internal/sample"
)

// newKey makes a fresh issuer key for a test.
func newKey(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	k, err := keyfile.New(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newRenderer makes a renderer with a fresh ES256 key.
func newRenderer(t testing.TB, opts Options) *Renderer {
	t.Helper()
	if opts.Issuer == nil {
		opts.Issuer = newKey(t, keyfile.ES256)
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fieldsOf turns sample card fields into render fields.
func fieldsOf(f sample.Fields) Fields {
	return Fields{Number: f.Number, Issue: f.Issue, Name: f.Name, DOB: f.DOB, Gender: f.Gender,
		Issued: f.Issued, Expires: f.Expires, Photo: f.Photo}
}

// sampleDay is the fixed issue date of sample cards, so golden images and
// the stored sample card stay stable.
var sampleDay = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)

// sampleFields returns fields for sample card i (internal/sample), dated
// on sampleDay.
func sampleFields(t testing.TB, i int) Fields {
	t.Helper()
	return fieldsOf(sample.CardFields(i, sampleDay))
}

// testdataJob is what layout reads of a testdata/jobs/*.json file: the
// template and the printed fields of the v1 job contract (the contract
// itself is queue/job's; layout does not import it).
type testdataJob struct {
	Template string `json:"template"`
	Card     struct {
		Number  string `json:"number"`
		Issue   int    `json:"issue"`
		Name    string `json:"name"`
		DOB     string `json:"dob"`
		Gender  string `json:"gender"`
		Issued  string `json:"issued"`
		Expires string `json:"expires"`
		Photo   string `json:"photo"` // base64
	} `json:"card"`
}

// testdataJobs reads every testdata/jobs/*.json as render fields, by file
// name, with the template each asks for.
func testdataJobs(t testing.TB) map[string]struct {
	Template string
	Fields   Fields
} {
	t.Helper()
	paths, err := filepath.Glob("../testdata/jobs/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no sample jobs in ../testdata/jobs (queue/job/sample makes them): %v", err)
	}
	out := map[string]struct {
		Template string
		Fields   Fields
	}{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var j testdataJob
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		photo, err := base64.StdEncoding.DecodeString(j.Card.Photo)
		if err != nil || j.Template == "" || j.Card.Number == "" {
			t.Fatalf("%s: not a v1 job with a template, card number and base64 photo (%v)", p, err)
		}
		c := j.Card
		out[filepath.Base(p)] = struct {
			Template string
			Fields   Fields
		}{j.Template, Fields{Number: c.Number, Issue: c.Issue, Name: c.Name, DOB: c.DOB, Gender: c.Gender,
			Issued: c.Issued, Expires: c.Expires, Photo: photo}}
	}
	return out
}

func samplePhotoHeader(format string, w, h uint32) []byte {
	if format == "png" {
		return sample.HugePNGHeader(w, h)
	}
	return sample.HugeJPEGHeader(uint16(w), uint16(h))
}
