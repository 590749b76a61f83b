package epoch

import (
	"bytes"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/cityid/printerd/queue/seal"
)

// BenchmarkOpenFromStore: a daemon opening one job (60 KB photo, sealed to
// 3 daemons) with its key read from the epoch directory, as the worker
// will, with 5 epochs' keys on disk (a day each, 4 days of retention).
func BenchmarkOpenFromStore(b *testing.B) {
	for _, kem := range []uint16{seal.KEMXWing, seal.KEMX25519} {
		b.Run(map[uint16]string{seal.KEMXWing: "xwing", seal.KEMX25519: "x25519"}[kem], func(b *testing.B) {
			var rs []seal.Recipient
			var mine *Store
			for d := range 3 {
				st, err := Open(Options{Dir: filepath.Join(b.TempDir(), "epoch"), KEM: kem})
				if err != nil {
					b.Fatal(err)
				}
				now := day("2026-11-26T12:00:00Z")
				for range 5 {
					if _, err := st.Current(now); err != nil {
						b.Fatal(err)
					}
					now = now.Add(24 * time.Hour)
				}
				k, _ := st.Current(day("2026-11-28T12:00:00Z"))
				rs = append(rs, k.Recipient())
				if d == 2 {
					mine = st
				}
			}
			p := seal.Person{Name: "Bench Person", DOB: "1990-01-01", Gender: "x", Photo: bytes.Repeat([]byte{7}, 60<<10)}
			s, err := seal.Seal(rand.Reader, p, clearF, rs)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				got, err := seal.Open(s, clearF, mine)
				if err != nil {
					b.Fatal(err)
				}
				got.Wipe()
			}
		})
	}
}
