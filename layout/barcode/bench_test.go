package barcode

import (
	"image"
	"testing"

	"github.com/cityid/printerd/internal/keyfile"
)

func BenchmarkSign(b *testing.B) {
	for _, alg := range []string{keyfile.ES256, keyfile.Ed25519} {
		b.Run(alg, func(b *testing.B) {
			key, _ := newKey(b, alg)
			for b.Loop() {
				if _, err := Sign(fixture, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{keyfile.ES256, keyfile.Ed25519} {
		b.Run(alg, func(b *testing.B) {
			key, pub := newKey(b, alg)
			text, err := Sign(fixture, key)
			if err != nil {
				b.Fatal(err)
			}
			keys := []keyfile.Public{pub}
			for b.Loop() {
				if _, _, err := Verify(text, keys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkQR(b *testing.B) {
	key, _ := newKey(b, keyfile.ES256)
	text, err := Sign(fixture, key)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := QR(text, ECQ, 4); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScan(b *testing.B) {
	// fixed symbols: card 0 of TestScanHardSymbols reads directly, card 25
	// only through the fallbacks
	key := seededKey()
	symbolFor := func(n string) (string, *image.Gray) {
		c := fixture
		c.Number = n
		text, err := Sign(c, key)
		if err != nil {
			b.Fatal(err)
		}
		sym, err := QR(text, ECQ, 4)
		if err != nil {
			b.Fatal(err)
		}
		return text, sym
	}
	text, sym := symbolFor("C-000000-1")
	hardText, hardSym := symbolFor("C-000025-1")
	for _, tc := range []struct {
		name string
		img  image.Image
		want string
	}{
		{"symbol", sym, text},
		{"card", onCard(sym), text},
		{"colour-card", rgbaCard(onCard(sym)), text},
		{"kplane", kPlane(sym), text},
		{"hard-card", onCard(hardSym), hardText},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if got, err := Scan(tc.img); err != nil || got != tc.want {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("no-code-card", func(b *testing.B) {
		blank := onCard(image.NewGray(image.Rect(0, 0, 10, 10)))
		for b.Loop() {
			if _, err := Scan(blank); err == nil {
				b.Fatal("found a code on a blank card")
			}
		}
	})
}
