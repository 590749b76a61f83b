package sim

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
)

// converse runs a device on a fixed input stream and returns its replies,
// split at CR.
func converse(t *testing.T, d *Device, in []byte) []string {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rw := struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(in), &out}
	if err := d.Serve(ctx, rw); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	s := out.String()
	if s == "" {
		return nil
	}
	if !strings.HasSuffix(s, "\r") {
		t.Fatalf("replies %q do not end in CR", s)
	}
	return strings.Split(strings.TrimSuffix(s, "\r"), "\r")
}

func cmd(name string, params ...string) []byte {
	b := []byte{esc}
	b = append(b, name...)
	for _, p := range params {
		b = append(b, ';')
		b = append(b, p...)
	}
	return append(b, cr)
}

// download frames Db;<panel>;<levels>;<data> CR.
func download(panelName string, levels string, data []byte) []byte {
	b := []byte("\x1bDb;" + panelName + ";" + levels + ";")
	b = append(b, data...)
	return append(b, cr)
}

// testCard is an invented card: a colour gradient, a black bar, overlay
// everywhere.
func testCard(label string, back bool) card.Card {
	c := card.Card{Label: label, Ribbon: card.YMCKO}
	side := func(shift int) card.Side {
		var s card.Side
		s.Y, s.M, s.C, s.K, s.O = card.NewPlane(), card.NewPlane(), card.NewPlane(), card.NewPlane(), card.NewPlane()
		for y := 0; y < card.Height; y++ {
			for x := 0; x < card.Width; x++ {
				s.Y.SetGray(x, y, color.Gray{Y: uint8((x + shift) * 255 / card.Width)})
				if x < 300 {
					s.M.SetGray(x, y, color.Gray{Y: 200})
				}
				if y < 100 {
					s.C.SetGray(x, y, color.Gray{Y: 255})
				}
				if x >= 600 && x < 900 && y >= 500 && y < 560 {
					s.K.SetGray(x, y, color.Gray{Y: 255})
				}
				s.O.SetGray(x, y, color.Gray{Y: 255})
			}
		}
		return s
	}
	c.Front = side(0)
	if back {
		b := side(500)
		c.Back = &b
	}
	return c
}

func rgbAt(img image.Image, x, y int) [3]uint8 {
	r, g, b, _ := img.At(x, y).RGBA()
	return [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
}

// newBytesSource is a source over fixed bytes, for the parser alone.
func newBytesSource(b []byte) *source {
	s := &source{ctx: context.Background(), ch: make(chan chunk), done: make(chan struct{}), timeout: time.Second}
	s.buf = b
	s.err = io.EOF
	return s
}

// converseErr is converse for a stream Serve ends with wantErr.
func converseErr(t *testing.T, d *Device, in []byte, wantErr error) []string {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := d.Serve(ctx, struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(in), &out})
	if !errors.Is(err, wantErr) {
		t.Fatalf("Serve: %v, want %v", err, wantErr)
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\r"), "\r")
}
