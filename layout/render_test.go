package layout

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderSampleJobs(t *testing.T) {
	r := newRenderer(t, Options{})
	out := os.Getenv("LAYOUT_OUT") // set to keep the PNGs for a look
	for name, j := range testdataJobs(t) {
		t.Run(name, func(t *testing.T) {
			c, err := r.Render(context.Background(), j.Template, fieldsOf(t, j.Card))
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if out != "" {
				dir := filepath.Join(out, strings.TrimSuffix(name, ".json"))
				if err := c.WritePNGs(dir); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
