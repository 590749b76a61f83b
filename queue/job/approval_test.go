package job_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

func newApprover(t testing.TB) (ed25519.PrivateKey, keyfile.Public) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := keyfile.KIDHex(pub)
	if err != nil {
		t.Fatal(err)
	}
	return priv, keyfile.Public{KID: kid, Key: pub}
}

func TestSignVerify(t *testing.T) {
	priv, pub := newApprover(t)
	_, other := newApprover(t)
	v, err := job.NewVerifier([]keyfile.Public{other, pub})
	if err != nil {
		t.Fatal(err)
	}
	body := sample.Body(sample.Jobs(1, now)[0])
	kid, sig, err := job.Sign(priv, body)
	if err != nil {
		t.Fatal(err)
	}
	if kid != pub.KID {
		t.Fatalf("Sign gave kid %s, keyfile says %s", kid, pub.KID)
	}
	if err := v.Verify(body, kid, sig); err != nil {
		t.Fatalf("Verify of a fresh signature: %v", err)
	}
	if j, err := v.ParseAt(body, kid, sig, now); err != nil || j.Card.Number != "SAMPLE-000001" {
		t.Fatalf("Verifier.ParseAt: %v", err)
	}

	flipped := append([]byte(nil), body...)
	flipped[len(flipped)/2] ^= 1
	sigBytes, _ := base64.StdEncoding.DecodeString(sig)
	sigBytes[0] ^= 1
	otherPriv, _ := newApprover(t)
	_, untrustedSig, _ := job.Sign(otherPriv, body)

	tests := []struct {
		name     string
		body     []byte
		kid, sig string
		want     error
		mentions string
	}{
		{"no headers", body, "", "", job.ErrNoApproval, "Approval-Key"},
		{"no key", body, "", sig, job.ErrNoApproval, "Approval-Key"},
		{"no signature", body, kid, "", job.ErrNoApproval, "Approval-Signature"},
		{"unknown key", body, strings.Repeat("0", 16), sig, job.ErrUnknownKey, "Approval-Key"},
		{"key id not hex", body, "Zofia Próbna....", sig, job.ErrUnknownKey, "Approval-Key"},
		{"key id upper", body, strings.ToUpper(kid), sig, job.ErrUnknownKey, "Approval-Key"},
		{"body changed by one bit", flipped, kid, sig, job.ErrBadSignature, "Approval-Signature"},
		{"body with a newline added", append(append([]byte(nil), body...), '\n'), kid, sig, job.ErrBadSignature, "Approval-Signature"},
		{"signature changed", body, kid, base64.StdEncoding.EncodeToString(sigBytes), job.ErrBadSignature, "Approval-Signature"},
		{"signature by an untrusted key under a trusted kid", body, kid, untrustedSig, job.ErrBadSignature, "Approval-Signature"},
		{"signature not base64", body, kid, "!!" + sig[2:], job.ErrBadSignature, "Approval-Signature"},
		{"signature url base64", body, kid, strings.NewReplacer("+", "-", "/", "_").Replace(sig) + "-", job.ErrBadSignature, "Approval-Signature"},
		{"signature short", body, kid, base64.StdEncoding.EncodeToString(sigBytes[:63]), job.ErrBadSignature, "Approval-Signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(tt.body, tt.kid, tt.sig)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.mentions) || !strings.HasPrefix(err.Error(), "job: ") {
				t.Errorf("message %q should start with job: and name %s", err, tt.mentions)
			}
			if strings.Contains(err.Error(), "Zofia") {
				t.Errorf("message %q echoes a header value", err)
			}
			if _, err := v.ParseAt(tt.body, tt.kid, tt.sig, now); !errors.Is(err, tt.want) {
				t.Errorf("Verifier.ParseAt parsed an unapproved body: %v", err)
			}
		})
	}
}

func TestSignRefusesBadKey(t *testing.T) {
	if _, _, err := job.Sign(ed25519.PrivateKey{1, 2, 3}, []byte("{}")); err == nil {
		t.Error("Sign accepted a 3-byte key")
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	_, good := newApprover(t)
	ec, err := keyfile.New(keyfile.ES256)
	if err != nil {
		t.Fatal(err)
	}
	ecKID, _ := keyfile.KIDHex(ec.Public())
	tests := []struct {
		name string
		keys []keyfile.Public
		want string
	}{
		{"none", nil, "no trusted approver keys"},
		{"ecdsa", []keyfile.Public{{KID: ecKID, Key: ec.Public(), Path: "/keys/issuer.pub"}}, "must be Ed25519"},
		{"kid mismatch", []keyfile.Public{{KID: "0000000000000000", Key: good.Key}}, "does not match"},
		{"twice", []keyfile.Public{good, good}, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := job.NewVerifier(tt.keys)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "job: ") {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestLoadVerifier(t *testing.T) {
	dir := t.TempDir()
	if _, err := job.LoadVerifier(dir); err == nil || !strings.Contains(err.Error(), "no approver keys") {
		t.Errorf("empty directory: %v", err)
	}
	key, err := keyfile.New(keyfile.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	if err := keyfile.WritePair(dir, "approver", key); err != nil {
		t.Fatal(err)
	}
	v, err := job.LoadVerifier(dir)
	if err != nil {
		t.Fatal(err)
	}
	body := sample.Body(sample.Jobs(1, now)[0])
	kid, sig, err := job.Sign(key.(ed25519.PrivateKey), body)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.KIDs(); len(got) != 1 || got[0] != kid {
		t.Errorf("KIDs %v, want [%s]", got, kid)
	}
	if err := v.Verify(body, kid, sig); err != nil {
		t.Errorf("Verify with a loaded key: %v", err)
	}

	ec, _ := keyfile.New(keyfile.ES256)
	if err := keyfile.WritePair(dir, "issuer", ec); err != nil {
		t.Fatal(err)
	}
	if _, err := job.LoadVerifier(dir); err == nil || !strings.Contains(err.Error(), "issuer.pub") || !strings.Contains(err.Error(), "Ed25519") {
		t.Errorf("directory with an ECDSA key: %v, want a refusal naming the file", err)
	}
}

// TestOpenSSL checks interoperability with the enrollment-system recipe of
// CLI.md: keys and signatures made by openssl verify here, and ours verify
// with openssl.
func TestOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is not on PATH; install it (apt-get install openssl) to run the interoperability test")
	}
	run := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	dir := t.TempDir()
	keyPath, pubPath := filepath.Join(dir, "approver.key"), filepath.Join(dir, "approver.pub")
	bodyPath, sigPath := filepath.Join(dir, "job.json"), filepath.Join(dir, "job.sig")
	run("genpkey", "-algorithm", "ed25519", "-out", keyPath)
	run("pkey", "-in", keyPath, "-pubout", "-out", pubPath)
	body := sample.Body(sample.Reprint(sample.Jobs(5, now)[4], job.ReasonNameChange))
	if err := os.WriteFile(bodyPath, body, 0o600); err != nil {
		t.Fatal(err)
	}

	v, err := job.LoadVerifier(dir)
	if err != nil {
		t.Fatal(err)
	}
	der := run("pkey", "-pubin", "-in", pubPath, "-outform", "DER")
	sum := sha256.Sum256(der)
	kid := hex.EncodeToString(sum[:8])
	if got := v.KIDs(); len(got) != 1 || got[0] != kid {
		t.Fatalf("kid %v, openssl recipe gives %s", got, kid)
	}
	sig := run("pkeyutl", "-sign", "-inkey", keyPath, "-rawin", "-in", bodyPath)
	if err := v.Verify(body, kid, base64.StdEncoding.EncodeToString(sig)); err != nil {
		t.Fatalf("openssl signature does not verify: %v", err)
	}
	if _, err := v.ParseAt(body, kid, base64.StdEncoding.EncodeToString(sig), now); err != nil {
		t.Fatalf("openssl-signed job: %v", err)
	}

	// The other way: sign in Go with the openssl key, verify with openssl.
	if err := os.Chmod(keyPath, 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := keyfile.LoadPrivate(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	gkid, gsig, err := job.Sign(signer.(ed25519.PrivateKey), body)
	if err != nil || gkid != kid {
		t.Fatalf("Sign: kid %s err %v, want kid %s", gkid, err, kid)
	}
	raw, _ := base64.StdEncoding.DecodeString(gsig)
	if err := os.WriteFile(sigPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out := run("pkeyutl", "-verify", "-pubin", "-inkey", pubPath, "-rawin", "-in", bodyPath, "-sigfile", sigPath)
	if !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Errorf("openssl does not verify our signature: %s", out)
	}
}

// TestLoadVerifierRefusesWritableKeys: approver keys grant the power to
// print; a key file or directory others may write is refused.
func TestLoadVerifierRefusesWritableKeys(t *testing.T) {
	for _, tc := range []struct {
		name          string
		dirMode, mode os.FileMode
		ok            bool
	}{
		{"private", 0o755, 0o644, true},
		{"world-writable key", 0o755, 0o666, false},
		{"group-writable key", 0o755, 0o664, false},
		{"world-writable directory", 0o777, 0o644, false},
	} {
		dir := filepath.Join(t.TempDir(), "approvers")
		k, _ := keyfile.New(keyfile.Ed25519)
		if err := keyfile.WritePair(dir, "a", k); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, "a.key"))
		os.Chmod(filepath.Join(dir, "a.pub"), tc.mode)
		os.Chmod(dir, tc.dirMode)
		_, err := job.LoadVerifier(dir)
		if (err == nil) != tc.ok || err != nil && !strings.Contains(err.Error(), "writable") {
			t.Errorf("%s: LoadVerifier = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
