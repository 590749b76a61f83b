package sample_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

var update = flag.Bool("update", false, "rewrite testdata/jobs and testdata/photos at the module root from this package")

// root is the module root, where the shared testdata lives.
const root = "../../.."

// fixtureDay is the fixed date of the testdata jobs, so regenerating them
// changes nothing unless the sample package changed.
var fixtureDay = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)

// goodJobs names the valid fixtures written to testdata/jobs.
func goodJobs() map[string]*job.Job {
	js := sample.Jobs(len(sample.People), fixtureDay)
	return map[string]*job.Job{
		"issue-polish.json":          js[0],
		"issue-vietnamese.json":      js[1],
		"issue-turkish.json":         js[2],
		"issue-icelandic.json":       js[3],
		"issue-combining-marks.json": js[4],
		"issue-long-name.json":       js[5],
		"reprint-lost.json":          sample.Reprint(js[6], "lost"),
		"reprint-name-change.json":   sample.Reprint(sample.Reprint(js[7], "damaged"), "name-change"),
	}
}

// fixtureBytes is how a job is stored on disk: the Body, indented for
// people to read, with a final newline. Those are the bytes to sign when a
// fixture is submitted as a file.
func fixtureBytes(t *testing.T, j *job.Job) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, sample.Body(j), "", "  "); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// photoFixtures are the files of testdata/photos.
func photoFixtures() map[string][]byte {
	return map[string][]byte{
		"sample-0.png":           sample.Photo(0),
		"sample-1.jpg":           sample.Photo(1),
		"sample-2.png":           sample.Photo(2),
		"sample-3.jpg":           sample.Photo(3),
		"truncated.png":          sample.Truncated(sample.Photo(0)),
		"truncated.jpg":          sample.Truncated(sample.Photo(1)),
		"header-20000x20000.png": sample.HugePNGHeader(20000, 20000),
		"header-20000x20000.jpg": sample.HugeJPEGHeader(20000, 20000),
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTestdataJobs checks that testdata/jobs/*.json are the sample jobs and
// still parse and validate; with -update it rewrites them.
func TestTestdataJobs(t *testing.T) {
	for name, j := range goodJobs() {
		path := filepath.Join(root, "testdata", "jobs", name)
		want := fixtureBytes(t, j)
		if *update {
			writeFile(t, path, want)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./queue/job/sample -update to write the fixtures)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the sample package; run go test ./queue/job/sample -update", name)
		}
		parsed, err := job.ParseAt(got, fixtureDay)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if parsed.ID != j.ID || parsed.Card != j.Card {
			t.Errorf("%s: parsed job differs from the sample", name)
		}
	}
}

// TestTestdataPhotos checks testdata/photos; with -update it rewrites them.
func TestTestdataPhotos(t *testing.T) {
	for name, want := range photoFixtures() {
		path := filepath.Join(root, "testdata", "photos", name)
		if *update {
			writeFile(t, path, want)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./queue/job/sample -update to write the fixtures)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the sample package; run go test ./queue/job/sample -update", name)
		}
		_, _, decodeErr := image.Decode(bytes.NewReader(got))
		broken := name[:9] == "truncated" || name[:6] == "header"
		if broken != (decodeErr != nil) {
			t.Errorf("%s: full decode error %v, want an error: %v", name, decodeErr, broken)
		}
	}
}
