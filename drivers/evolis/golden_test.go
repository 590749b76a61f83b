package evolis

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"

	"github.com/cityid/printerd/card"
)

// goldenCard is a fixed two-sided YMCKO card that exercises every path of
// the encoder: the gradients, noise and K pattern of testCard on the front;
// on the back long colour runs (over 255 and 511 dots), a mid-grey K,
// planes taken as sub-images (non-zero origin, wider stride) and a nil O.
func goldenCard() card.Card {
	c := testCard(card.YMCKO)
	rnd := rand.New(rand.NewPCG(7, 11))
	sub := func() *image.Gray {
		big := image.NewGray(image.Rect(0, 0, card.Width+13, card.Height+5))
		for i := range big.Pix {
			big.Pix[i] = uint8(rnd.IntN(256))
		}
		return big.SubImage(image.Rect(7, 3, 7+card.Width, 3+card.Height)).(*image.Gray)
	}
	var b card.Side
	b.Y = card.NewPlane()
	for i := range b.Y.Pix {
		b.Y.Pix[i] = 200
	}
	b.M = sub()
	b.C = card.NewPlane()
	for y := 0; y < card.Height; y++ {
		for x := 0; x < card.Width; x++ {
			if y%7 == 0 || x > 900 {
				b.C.Pix[y*b.C.Stride+x] = uint8(x * 255 / card.Width)
			}
		}
	}
	b.K = card.NewPlane()
	for i := range b.K.Pix {
		b.K.Pix[i] = uint8(120 + i%17)
	}
	c.Back = &b
	c.Mag = [3]string{"INVENTED^CARD", "4111111111111111=2512", ""}
	return c
}

// TestEncodeCardGolden pins the exact bytes EncodeCard writes for a fixed
// card in every mode: the encoder may get faster, never different.
func TestEncodeCardGolden(t *testing.T) {
	want := map[string]string{
		"rot270-l32-raw": "3f1dbd1cd854137dea68f695619f0177945d01762506c7f472dd4072bab7dbf7",
		"rot270-l32-dbc": "4a06b7358bb8c682e8a5d41e91a356c4cab3f5d2d10723be81b63fab3d962fbf",
		"rot90-l32-raw":  "6b40c7947f1d96c15e462dfdb1272bba8541413d313af1c0953d671e2fd6b068",
		"rot90-l32-dbc":  "257c2df054f9b18dc168b235bc44fa03524c61de179b09f5265f38c289d294b9",
		"rot270-l64-raw": "f22f7effa5535269ef84f4322de9ec38f4a9ef6972feb4c4ecb6dee88ece37cc",
		"rot270-l64-dbc": "fdf43d250676decf8d6942a4b3ebb2b93cbe0284c921a659fa33d2d6ee859280",
		"rot90-l128-raw": "39208b9dc8041cd4982a993c200e89b20726525dc27f2736a88dcb5be411e15a",
		"rot90-l128-dbc": "40557b2ac5f57b13c8cfd82ba14f2a44652c09df91612c57e7d10b3097af272f",
	}
	c := goldenCard()
	for _, rot := range []int{270, 90} {
		for _, levels := range []int{32, 64, 128} {
			for _, compress := range []bool{false, true} {
				mode := "raw"
				if compress {
					mode = "dbc"
				}
				name := fmt.Sprintf("rot%d-l%d-%s", rot, levels, mode)
				w, ok := want[name]
				if !ok {
					continue
				}
				t.Run(name, func(t *testing.T) {
					s, err := EncodeCard(c, Options{Rotation: rot, Levels: levels, Compress: compress})
					if err != nil {
						t.Fatal(err)
					}
					sum := sha256.Sum256(s)
					if got := hex.EncodeToString(sum[:]); got != w {
						t.Errorf("stream of %d bytes hashes to %s, want %s", len(s), got, w)
					}
				})
			}
		}
	}
}

// TestToPrintOrderSubImage: a plane taken as a sub-image (its Pix starts
// at Bounds().Min, with a wider stride) rotates as a copy of it does.
func TestToPrintOrderSubImage(t *testing.T) {
	big := image.NewGray(image.Rect(0, 0, card.Width+9, card.Height+4))
	for i := range big.Pix {
		big.Pix[i] = uint8(i * 31)
	}
	sub := big.SubImage(image.Rect(5, 2, 5+card.Width, 2+card.Height)).(*image.Gray)
	flat := card.NewPlane()
	for y := 0; y < card.Height; y++ {
		for x := 0; x < card.Width; x++ {
			flat.Pix[y*flat.Stride+x] = sub.GrayAt(5+x, 2+y).Y
		}
	}
	for _, rot := range []int{90, 270} {
		a, err := ToPrintOrder(sub, rot)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ToPrintOrder(flat, rot)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Errorf("rotation %d: sub-image and its copy rotate differently", rot)
		}
	}
}

// sameRun agrees with a plain byte-by-byte count on runs of every length
// around its 8-byte steps and limits.
func TestSameRun(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 5))
	for i := 0; i < 2000; i++ {
		b := make([]byte, 1+rnd.IntN(40))
		for j := range b {
			b[j] = byte(rnd.IntN(2)) // long runs are likely
		}
		limit := 1 + rnd.IntN(len(b))
		want := 1
		for want < limit && b[want] == b[0] {
			want++
		}
		if got := sameRun(b, limit); got != want {
			t.Fatalf("sameRun(%v, %d) = %d, want %d", b, limit, got, want)
		}
	}
}
