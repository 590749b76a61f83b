package chipe2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers/chip/vchip"
	"github.com/cityid/printerd/drivers/pcsc"
	"github.com/cityid/printerd/layout/credential"
)

// BenchmarkEncode measures the chip encoding of one card through the real
// pcscd and vpcd once the chip is at the station: connect, UID, write the
// sealed credential (about 590 bytes in 255-byte UPDATE BINARYs), read it
// back and compare, lock. Sealing (Argon2id) and waiting for pcscd to see
// the chip are reported apart: seal-ms and detect-ms.
func BenchmarkEncode(b *testing.B) {
	text, _ := signPerson(b)
	start := time.Now()
	msg, err := credential.Encode(text, can)
	if err != nil {
		b.Fatal(err)
	}
	seal := time.Since(start)
	enc := pcsc.NewEncoder(pcsc.Options{})
	ctx := context.Background()
	var detect time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c, err := vchip.New(vchip.Options{})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := c.Insert(ctx, vchip.Addr0); err != nil {
			b.Fatal(err)
		}
		if err := pcsc.WaitCard(ctx, vchip.Reader0); err != nil {
			b.Fatal(err)
		}
		detect += time.Since(t0)
		b.StartTimer()
		res, err := enc.Encode(ctx, vchip.Reader0, msg)
		b.StopTimer()
		if err != nil || !res.Locked {
			b.Fatalf("Encode: %v (locked %v)", err, res.Locked)
		}
		remove(b, c)
		b.StartTimer()
	}
	b.ReportMetric(float64(seal.Microseconds())/1000, "seal-ms")
	b.ReportMetric(float64(detect.Microseconds())/1000/float64(b.N), "detect-ms")
}
