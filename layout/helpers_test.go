package layout

import (
	"crypto"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
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

// fieldsOf turns a job card into render fields.
func fieldsOf(t testing.TB, c job.Card) Fields {
	t.Helper()
	photo, err := base64.StdEncoding.DecodeString(c.Photo)
	if err != nil {
		t.Fatalf("sample photo: %v", err)
	}
	return Fields{Number: c.Number, Issue: c.Issue, Name: c.Name, DOB: c.DOB, Gender: c.Gender,
		Issued: c.Issued, Expires: c.Expires, Photo: photo}
}

// sampleFields returns fields for sample person i, dated on a fixed day so
// golden images stay stable.
func sampleFields(t testing.TB, i int) Fields {
	t.Helper()
	day := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	js := sample.Jobs(i+1, day)
	return fieldsOf(t, js[i].Card)
}

// testdataJobs parses every testdata/jobs/*.json with the job contract.
func testdataJobs(t testing.TB) map[string]*job.Job {
	t.Helper()
	paths, err := filepath.Glob("../testdata/jobs/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no sample jobs in ../testdata/jobs (queue/job/sample makes them): %v", err)
	}
	out := map[string]*job.Job{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		j, err := job.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = j
	}
	return out
}

func samplePhotoHeader(format string, w, h uint32) []byte {
	if format == "png" {
		return sample.HugePNGHeader(w, h)
	}
	return sample.HugeJPEGHeader(uint16(w), uint16(h))
}
