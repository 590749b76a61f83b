package layout

import (
	"image"
	"strings"
	"testing"
)

func TestDecodePhoto(t *testing.T) {
	png0 := sampleFields(t, 0).Photo
	jpg1 := sampleFields(t, 1).Photo
	for _, tc := range []struct {
		name string
		data []byte
		want string // "" = decodes
	}{
		{"png", png0, ""},
		{"jpeg", jpg1, ""},
		{"empty", nil, "empty"},
		{"truncated png", png0[:len(png0)/2], "truncated or corrupt png"},
		{"truncated jpeg", jpg1[:len(jpg1)/2], "truncated or corrupt jpeg"},
		{"header only", png0[:20], "header"},
		{"huge png", hugePNG(4097, 10), "size 4097x10: larger than 4096x4096"},
		{"huge jpeg", hugeJPEG(100, 60000), "larger than 4096x4096"},
		{"zero size png", hugePNG(0, 0), ""},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00"), "JPEG or PNG"},
		{"too many bytes", make([]byte, MaxPhotoBytes+1), "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := decodeImage(tc.data, MaxPhotoBytes, MaxPhotoSide)
			if tc.want == "" && tc.name != "zero size png" {
				if err != nil || img.Bounds().Empty() {
					t.Fatalf("decode: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("decoded a bad photo")
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

func TestFillBoxKeepsAspect(t *testing.T) {
	// a wide photo with a centred black square: cropped to fill a portrait
	// box, the square must stay square (no distortion)
	src := image.NewRGBA(image.Rect(0, 0, 800, 400))
	for i := range src.Pix {
		src.Pix[i] = 255
	}
	for y := 150; y < 250; y++ {
		for x := 350; x < 450; x++ {
			i := src.PixOffset(x, y)
			src.Pix[i], src.Pix[i+1], src.Pix[i+2] = 0, 0, 0
		}
	}
	box := image.Rect(10, 20, 210, 270) // 200x250
	dst := image.NewRGBA(image.Rect(0, 0, 300, 300))
	fillBox(dst, box, src, &scalers{})
	var ink image.Rectangle
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			if dst.Pix[dst.PixOffset(x, y)] < 128 {
				ink = ink.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	// 400 source rows fill 250 box rows: the 100-pixel square becomes ~62x62
	if d := ink.Dx() - ink.Dy(); d < -2 || d > 2 || ink.Dx() < 58 || ink.Dx() > 66 {
		t.Fatalf("square drawn as %v", ink)
	}
	if c := ink.Min.Add(ink.Max).Div(2); c.X < 105 || c.X > 115 || c.Y < 140 || c.Y > 150 {
		t.Fatalf("square not centred: %v", ink)
	}
}

func FuzzDecodePhoto(f *testing.F) {
	png0 := sampleFields(f, 0).Photo
	jpg1 := sampleFields(f, 1).Photo
	f.Add(png0)
	f.Add(jpg1[:600])
	f.Add(hugePNG(5000, 5000))
	f.Add(hugeJPEG(10, 10))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := decodeImage(b, MaxPhotoBytes, MaxPhotoSide)
		if err != nil {
			return
		}
		if r := img.Bounds(); r.Dx() > MaxPhotoSide || r.Dy() > MaxPhotoSide || r.Empty() {
			t.Fatalf("accepted %v", r)
		}
	})
}
