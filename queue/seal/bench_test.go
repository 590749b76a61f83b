package seal

import (
	"crypto/rand"
	"fmt"
	"testing"
)

// BenchmarkSeal and BenchmarkOpen measure one job with a 60 KB photo, as
// enrollment seals it and a daemon opens it (keys in memory).
func BenchmarkSeal(b *testing.B) {
	for _, kem := range []uint16{KEMXWing, KEMX25519} {
		for _, n := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/%d", kemName(kem), n), func(b *testing.B) {
				rs, _ := newKeys(b, kem, n)
				p, c := testPerson(60<<10), testClear()
				b.SetBytes(int64(len(p.Photo)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Seal(rand.Reader, p, c, rs); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, kem := range []uint16{KEMXWing, KEMX25519} {
		for _, n := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/%d", kemName(kem), n), func(b *testing.B) {
				rs, sks := newKeys(b, kem, n)
				p, c := testPerson(60<<10), testClear()
				s, err := Seal(rand.Reader, p, c, rs)
				if err != nil {
					b.Fatal(err)
				}
				kr := keyring{rs[n-1].KeyID: sks[n-1]} // the last recipient: the others are looked up first
				b.SetBytes(int64(len(p.Photo)))
				b.ReportAllocs()
				for b.Loop() {
					got, err := Open(s, c, kr)
					if err != nil {
						b.Fatal(err)
					}
					got.Wipe()
				}
			})
		}
	}
}

func kemName(kem uint16) string {
	if kem == KEMXWing {
		return "xwing"
	}
	return "x25519"
}
