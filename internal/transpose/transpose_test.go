package transpose

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func TestBytes8x8(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		var m [8][8]byte
		var a [8]uint64
		for j := range m {
			for k := range m[j] {
				m[j][k] = byte(r.Uint32())
			}
			a[j] = binary.LittleEndian.Uint64(m[j][:])
		}
		var b [8]uint64
		b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7] = Bytes8x8(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
		for k := range 8 {
			var row [8]byte
			binary.LittleEndian.PutUint64(row[:], b[k])
			for j := range 8 {
				if row[j] != m[j][k] {
					t.Fatalf("row %d byte %d = %#x, want %#x (byte %d of row %d)", k, j, row[j], m[j][k], k, j)
				}
			}
		}
	}
}

func BenchmarkBytes8x8(b *testing.B) {
	a := [8]uint64{1, 2, 3, 4, 5, 6, 7, 8}
	for b.Loop() {
		a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7] = Bytes8x8(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
	}
}
