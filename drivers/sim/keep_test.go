package sim

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers/evolis"
)

// koStream is the driver's stream for a small K-only card, n times over.
func koStream(t *testing.T, n int) []byte {
	t.Helper()
	c := card.Card{Ribbon: card.KO}
	c.Front.K = card.NewPlane()
	for i := 0; i < card.Width*40; i++ {
		c.Front.K.Pix[i] = 255
	}
	s, err := evolis.EncodeCard(c, evolis.Options{Compress: true, Ribbon: card.KO})
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(s, n)
}

func serveAll(t *testing.T, d *Device, stream []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Serve(ctx, struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(stream), io.Discard}); err != nil {
		t.Fatal(err)
	}
}

// The device keeps only the newest KeepCards cards; the counters count all.
func TestKeepCards(t *testing.T) {
	tests := []struct {
		name    string
		keep    int
		printed int
		first   int // feed number of the oldest card kept
		kept    int
	}{
		{"default keeps 16", 0, 20, 5, 16},
		{"fewer than the bound", 0, 3, 1, 3},
		{"keep 3", 3, 7, 5, 3},
		{"keep none", -1, 4, 0, 0},
		{"keep many", 100, 20, 1, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Options{KeepCards: tc.keep})
			serveAll(t, d, koStream(t, tc.printed))
			if got := d.Counters().Printed; got != tc.printed {
				t.Fatalf("counters: %d printed, want %d", got, tc.printed)
			}
			cards := d.Cards()
			if len(cards) != tc.kept {
				t.Fatalf("kept %d cards, want %d", len(cards), tc.kept)
			}
			for i, c := range cards {
				if want := fmt.Sprintf("card-%04d", tc.first+i); c.Label != want {
					t.Errorf("kept card %d is %s, want %s", i, c.Label, want)
				}
				if c.Front == nil || c.FrontPanels.K == nil || c.FrontPanels.K.Pix[0] != 255 {
					t.Errorf("kept card %s has no composited face or K panel", c.Label)
				}
			}
		})
	}
}

// With Out set the files are written at eject; Cards composites the same
// faces again later, and concurrent Cards calls agree.
func TestKeptCardsWithFiles(t *testing.T) {
	out := t.TempDir()
	d := New(Options{Out: out, KeepCards: 2})
	serveAll(t, d, koStream(t, 3))
	for _, l := range []string{"card-0001", "card-0002", "card-0003"} {
		if _, err := os.Stat(filepath.Join(out, l+"-front.png")); err != nil {
			t.Errorf("card %s: %v", l, err)
		}
	}
	var wg sync.WaitGroup
	got := make([][]Printed, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = d.Cards()
		}()
	}
	wg.Wait()
	for i := range got {
		if len(got[i]) != 2 || got[i][0].Label != "card-0002" || len(got[i][1].Files) != 1 {
			t.Fatalf("Cards = %d cards, want card-0002 and card-0003 with their file", len(got[i]))
		}
		if got[i][1].Front != got[0][1].Front {
			t.Errorf("Cards call %d composited the card again", i)
		}
	}
	// The file written at eject shows what Cards composited later.
	fh, err := os.Open(got[0][1].Files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil {
		t.Fatal(err)
	}
	file := image.NewRGBA(img.Bounds())
	draw.Draw(file, file.Rect, img, img.Bounds().Min, draw.Src)
	if front := got[0][1].Front.(*image.RGBA); file.Rect != front.Rect || !bytes.Equal(file.Pix, front.Pix) {
		t.Error("the PNG file and the card Cards returns differ")
	}
}

// keep=N in a sim:// URI sets KeepCards; a bad value names the parameter.
func TestKeepFromURI(t *testing.T) {
	tests := []struct {
		uri     string
		want    int
		wantErr bool
	}{
		{"sim://k?keep=3", 3, false},
		{"sim://k", 0, false},
		{"sim://k?keep=-1", 0, true},
		{"sim://k?keep=many", 0, true},
	}
	for _, tc := range tests {
		u, err := url.Parse(tc.uri)
		if err != nil {
			t.Fatal(err)
		}
		o, err := OptionsFromURI(u)
		if (err != nil) != tc.wantErr || err == nil && o.KeepCards != tc.want {
			t.Errorf("%s: KeepCards %d, err %v; want %d, error %v", tc.uri, o.KeepCards, err, tc.want, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "keep") {
			t.Errorf("%s: error %q does not name keep", tc.uri, err)
		}
	}
}

// Checking a Dbc panel without writing it (on arrival) refuses exactly what
// decoding it refuses, so a card accepted always composites.
func FuzzPanelCheck(f *testing.F) {
	f.Add([]byte{0x80, 0}, 32, 1015, false)
	f.Add([]byte{0x81, 200, 0x81, 200, 0x81, 248, 0x80, 0}, 32, 1015, false)
	f.Add(append([]byte{0xFF, 5, 1, 2, 3, 4, 5}, make([]byte, 10)...), 2, 1004, false)
	f.Add([]byte{0xE1, 0xFF, 0x81, 0x80}, 64, 1015, false)
	f.Add(make([]byte, 82296), 2, 0, true)
	f.Fuzz(func(t *testing.T, data []byte, levels, first int, raw bool) {
		if first < 0 || first >= lines {
			return
		}
		pd := panelData{compressed: !raw, levels: levels, first: first, data: data}
		checkErr := pd.check()
		decErr := pd.decode(make([]byte, planeSize))
		if (checkErr == nil) != (decErr == nil) {
			t.Fatalf("check: %v; decode: %v", checkErr, decErr)
		}
	})
}
