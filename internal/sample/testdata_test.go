package sample

import (
	"bytes"
	"flag"
	"image"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/photos at the module root from this package")

// root is the module root, where the shared testdata lives.
const root = "../.."

// photoFixtures are the files of testdata/photos.
func photoFixtures() map[string][]byte {
	return map[string][]byte{
		"sample-0.png":           Photo(0),
		"sample-1.jpg":           Photo(1),
		"sample-2.png":           Photo(2),
		"sample-3.jpg":           Photo(3),
		"truncated.png":          Truncated(Photo(0)),
		"truncated.jpg":          Truncated(Photo(1)),
		"header-20000x20000.png": HugePNGHeader(20000, 20000),
		"header-20000x20000.jpg": HugeJPEGHeader(20000, 20000),
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

// TestTestdataPhotos checks testdata/photos; with -update it rewrites them.
func TestTestdataPhotos(t *testing.T) {
	for name, want := range photoFixtures() {
		path := filepath.Join(root, "testdata", "photos", name)
		if *update {
			writeFile(t, path, want)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/sample -update to write the fixtures)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the sample package; run go test ./internal/sample -update", name)
		}
		_, _, decodeErr := image.Decode(bytes.NewReader(got))
		broken := name[:9] == "truncated" || name[:6] == "header"
		if broken != (decodeErr != nil) {
			t.Errorf("%s: full decode error %v, want an error: %v", name, decodeErr, broken)
		}
	}
}
