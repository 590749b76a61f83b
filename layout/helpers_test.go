package layout

import (
	"crypto"
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

func samplePhotoHeader(format string, w, h uint32) []byte {
	if format == "png" {
		return sample.HugePNGHeader(w, h)
	}
	return sample.HugeJPEGHeader(uint16(w), uint16(h))
}
