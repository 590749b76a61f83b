package layout

import (
	"errors"
	"fmt"
	"image"
	"strings"
	"sync"

	"golang.org/x/image/draw"

	"github.com/cityid/printerd/internal/imgcheck"
)

// MaxPhotoSide is the largest photo width or height accepted, as the job
// contract allows.
const MaxPhotoSide = 4096

// MaxPhotoBytes bounds the decoded photo file (the job allows 512 KiB of
// base64, about 384 KiB of image).
const MaxPhotoBytes = 1 << 20

// decodeImage decodes a JPEG or PNG after checking its header: at most
// maxSide pixels a side and maxBytes long. Errors never include image data.
func decodeImage(b []byte, maxBytes, maxSide int) (image.Image, error) {
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	if len(b) > maxBytes {
		return nil, fmt.Errorf("%d bytes, more than the %d allowed", len(b), maxBytes)
	}
	img, _, err := imgcheck.Decode(b, maxSide, imgcheck.DefaultBudget)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "imgcheck: "))
	}
	return img, nil
}

// fillBox scales src to cover dst's rectangle r exactly, cropping the excess
// from the centre, without distortion (Catmull-Rom filter). A photo much
// larger than its box is first halved with a cheap box-like filter so the
// Catmull-Rom pass stays fast; the final pass keeps the quality.
func fillBox(dst draw.Image, r image.Rectangle, src image.Image, sc *scalers) {
	sb := src.Bounds()
	// crop src to r's aspect ratio
	sw, sh := sb.Dx(), sb.Dy()
	cw, ch := sw, sw*r.Dy()/r.Dx()
	if ch > sh {
		ch, cw = sh, sh*r.Dx()/r.Dy()
	}
	if cw < 1 {
		cw = 1
	}
	if ch < 1 {
		ch = 1
	}
	x0 := sb.Min.X + (sw-cw)/2
	y0 := sb.Min.Y + (sh-ch)/2
	crop := image.Rect(x0, y0, x0+cw, y0+ch)
	if rgba, ok := src.(*image.RGBA); !ok || !rgba.Opaque() {
		// Flatten over white (a transparent background prints as blank
		// card, not as black) into RGBA: the scaler's RGBA path is several
		// times faster than its generic (e.g. YCbCr) one.
		flat := image.NewRGBA(crop)
		draw.Draw(flat, crop, image.White, image.Point{}, draw.Src)
		draw.Draw(flat, crop, src, crop.Min, draw.Over)
		src = flat
	}
	for crop.Dx() > 3*r.Dx() && crop.Dy() > 3*r.Dy() {
		half := image.NewRGBA(image.Rect(0, 0, crop.Dx()/2, crop.Dy()/2))
		draw.ApproxBiLinear.Scale(half, half.Bounds(), src, crop, draw.Src, nil)
		src, crop = half, half.Bounds()
	}
	sc.get(r.Dx(), r.Dy(), crop.Dx(), crop.Dy()).Scale(dst, r, src, crop, draw.Src, nil)
}

// scalers caches Catmull-Rom scalers by size: photos from one camera share
// their size, and a cached scaler keeps its filter weights and its
// (several MB) work buffer. It is safe for concurrent use.
type scalers struct {
	mu sync.Mutex
	m  map[[4]int]draw.Scaler
}

// maxScalers bounds the cache; past it, scalers are made per call.
const maxScalers = 16

func (s *scalers) get(dw, dh, sw, sh int) draw.Scaler {
	k := [4]int{dw, dh, sw, sh}
	s.mu.Lock()
	defer s.mu.Unlock()
	if z, ok := s.m[k]; ok {
		return z
	}
	z := draw.CatmullRom.NewScaler(dw, dh, sw, sh)
	if s.m == nil {
		s.m = map[[4]int]draw.Scaler{}
	}
	if len(s.m) < maxScalers {
		s.m[k] = z
	}
	return z
}

// containBox scales src to fit inside r keeping its aspect ratio, centred,
// blending over what is there (images may have transparency).
func containBox(dst draw.Image, r image.Rectangle, src image.Image) image.Rectangle {
	sb := src.Bounds()
	w, h := r.Dx(), sb.Dy()*r.Dx()/sb.Dx()
	if h > r.Dy() {
		h, w = r.Dy(), sb.Dx()*r.Dy()/sb.Dy()
	}
	x0 := r.Min.X + (r.Dx()-w)/2
	y0 := r.Min.Y + (r.Dy()-h)/2
	to := image.Rect(x0, y0, x0+w, y0+h)
	draw.CatmullRom.Scale(dst, to, src, sb, draw.Over, nil)
	return to
}
