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
	key, _ := newKey(b, keyfile.ES256)
	text, err := Sign(fixture, key)
	if err != nil {
		b.Fatal(err)
	}
	sym, err := QR(text, ECQ, 4)
	if err != nil {
		b.Fatal(err)
	}
	for name, img := range map[string]*image.Gray{"symbol": sym, "card": onCard(sym), "kplane": kPlane(sym)} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if got, err := Scan(img); err != nil || got != text {
					b.Fatal(err)
				}
			}
		})
	}
}
