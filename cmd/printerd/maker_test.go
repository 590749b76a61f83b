package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// TestMakerDecodesThePhotoOnce: the daemon's maker lays the card out from
// the photo the job's validation decoded, never from its bytes again.
func TestMakerDecodesThePhotoOnce(t *testing.T) {
	j, err := job.Parse(sample.Body(sample.Jobs(1, time.Now())[0]))
	if err != nil {
		t.Fatal(err)
	}
	f, err := fieldsOf(j)
	if err != nil {
		t.Fatal(err)
	}
	if f.PhotoImage == nil || f.PhotoImage != j.PhotoImage() || f.Photo != nil {
		t.Fatalf("fieldsOf: PhotoImage %v, Photo %d bytes; want the job's decoded image and no bytes to decode again", f.PhotoImage != nil, len(f.Photo))
	}
	dir := t.TempDir()
	key, _ := keyfile.New(keyfile.ES256)
	if err := keyfile.WritePair(dir, "issuer", key); err != nil {
		t.Fatal(err)
	}
	priv, err := keyfile.LoadPrivate(filepath.Join(dir, "issuer.key"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := layout.New(layout.Options{Issuer: priv})
	if err != nil {
		t.Fatal(err)
	}
	// The same card from the decoded image and from the bytes.
	fromImage, err := r.Render(context.Background(), j.Template, f)
	if err != nil {
		t.Fatal(err)
	}
	f.Photo, _ = j.Card.PhotoBytes()
	f.PhotoImage = nil
	fromBytes, err := r.Render(context.Background(), j.Template, f)
	if err != nil {
		t.Fatal(err)
	}
	if string(fromImage.Panels.Front.K.Pix) != string(fromBytes.Panels.Front.K.Pix) || string(fromImage.Panels.Front.Y.Pix) != string(fromBytes.Panels.Front.Y.Pix) {
		t.Error("the card laid out from the decoded photo differs from the one laid out from its bytes")
	}
}
