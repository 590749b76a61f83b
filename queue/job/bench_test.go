package job_test

import (
	"fmt"
	"testing"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/epoch"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// benchmark runs Verify then Parse on sample job i (even i: PNG photo, odd
// i: JPEG photo), as a worker does for each message.
func benchmark(b *testing.B, i int) {
	priv, pub := newApprover(b)
	v, err := job.NewVerifier([]keyfile.Public{pub})
	if err != nil {
		b.Fatal(err)
	}
	body := sample.Body(sample.Jobs(i+1, now)[i])
	kid, sig, err := job.Sign(priv, body)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.ParseAt(body, kid, sig, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParsePNG(b *testing.B)  { benchmark(b, 0) }
func BenchmarkVerifyParseJPEG(b *testing.B) { benchmark(b, 1) }

// BenchmarkVerify is the signature check alone.
func BenchmarkVerify(b *testing.B) {
	priv, pub := newApprover(b)
	v, _ := job.NewVerifier([]keyfile.Public{pub})
	body := sample.Body(sample.Jobs(1, now)[0])
	kid, sig, _ := job.Sign(priv, body)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := v.Verify(body, kid, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealJob is what enrollment (printerd submit) does per job:
// job.Seal of a sample plain job to n daemons' current X-Wing keys.
func BenchmarkSealJob(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			var sts []*epoch.Store
			for range n {
				sts = append(sts, daemonStore(b))
			}
			rs := sample.Recipients(now, sts...)
			j := sample.Jobs(1, now)[0]
			b.ReportAllocs()
			for b.Loop() {
				if _, err := job.Seal(nil, j, "town-hall", "front-desk", rs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyOpen is the v2 worker path per message: verify the
// approval, parse the envelope, check a recipient key is held, open the
// sealed part with the key read from the epoch directory (5 epochs' keys
// on disk), validate the person (photo decoded), wipe. Compare with
// VerifyParsePNG/JPEG, the v1 path.
func BenchmarkVerifyOpen(b *testing.B) {
	for _, tc := range []struct {
		name string
		i, n int
	}{{"png/recipients=1", 0, 1}, {"jpeg/recipients=1", 1, 1}, {"png/recipients=2", 0, 2}} {
		b.Run(tc.name, func(b *testing.B) {
			priv, pub := newApprover(b)
			v, err := job.NewVerifier([]keyfile.Public{pub})
			if err != nil {
				b.Fatal(err)
			}
			st := daemonStore(b)
			for d := -4; d < 0; d++ { // older epochs' keys on disk too
				if _, err := st.Current(now.AddDate(0, 0, d)); err != nil {
					b.Fatal(err)
				}
			}
			sts := []*epoch.Store{daemonStore(b), st}[2-tc.n:]
			body := sample.SealedFor(sample.Jobs(tc.i+1, now)[tc.i], "town-hall", "front-desk", now, sts...)
			kid, sig, err := job.Sign(priv, body)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify(body, kid, sig); err != nil {
					b.Fatal(err)
				}
				e, err := job.ParseEnvelope(body)
				if err != nil {
					b.Fatal(err)
				}
				held := false
				for _, k := range e.RecipientKIDs() {
					ok, _ := st.Has(k)
					held = held || ok
				}
				j, err := e.OpenAt(st, now)
				if err != nil || !held {
					b.Fatal(err)
				}
				j.Wipe()
			}
		})
	}
}
