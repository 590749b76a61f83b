package job_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// An enrollment system signs the exact body it publishes; a printerd
// worker verifies the approval before it trusts the parsed job.
func Example() {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	kid, _ := keyfile.KIDHex(pub)
	verifier, _ := job.NewVerifier([]keyfile.Public{{KID: kid, Key: pub}})

	today := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	body := sample.Body(sample.Jobs(1, today)[0])
	hdrKey, hdrSig, _ := job.Sign(priv, body) // Approval-Key, Approval-Signature

	j, err := verifier.ParseAt(body, hdrKey, hdrSig, today)
	fmt.Println(j, err) // no personal data in the output

	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-3] ^= 1
	_, err = verifier.ParseAt(tampered, hdrKey, hdrSig, today)
	fmt.Println(errors.Is(err, job.ErrBadSignature))
	// Output:
	// job 38c971b4-5296-5278-965e-edc937ac36f1 issue card SAMPLE-000001 issue 1 template municipal-id <nil>
	// true
}

func ExampleParseAt() {
	_, err := job.ParseAt([]byte(`{"v":2}`), time.Now())
	fmt.Println(err)
	var fe *job.FieldError
	if errors.As(err, &fe) {
		fmt.Println(fe.Field)
	}
	// Output:
	// job: v: must be 1
	// v
}
