package job_test

import (
	"testing"

	"github.com/cityid/printerd/internal/keyfile"
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
