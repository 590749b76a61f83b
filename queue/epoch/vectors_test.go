package epoch

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/seal"
)

var update = flag.Bool("update", false, "rewrite testdata/seal/announcement.json at the module root")

const annPath = "../../testdata/seal/announcement.json"

type annVector struct {
	Comment      string          `json:"comment"`
	DaemonSeed   string          `json:"daemon_ed25519_seed"` // hex, RFC 8032 private key seed
	DaemonPublic string          `json:"daemon_public_key"`   // hex, raw Ed25519
	DaemonSPKI   string          `json:"daemon_spki_der"`     // hex, what the kid hashes
	EpochIKM     string          `json:"epoch_key_ikm"`       // hex, DeriveKeyPair input of the epoch key
	SigningInput string          `json:"signing_input"`       // hex
	Announcement json.RawMessage `json:"announcement"`
}

func vectorAnnouncement(t *testing.T) (*Announcement, ed25519.PrivateKey, []byte) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = 0x70 + byte(i)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	kid, err := keyfile.KIDHex(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	ikm := make([]byte, 32)
	for i := range ikm {
		ikm[i] = byte(i) // vectors.json's first recipient
	}
	kem, _ := seal.KEM(seal.KEMXWing)
	sk, err := kem.DeriveKeyPair(ikm)
	if err != nil {
		t.Fatal(err)
	}
	k := Key{ID: seal.KeyID(sk.PublicKey()), Epoch: "20261130T000000Z", KEM: seal.KEMXWing,
		Start: day("2026-11-30T00:00:00Z"), End: day("2026-12-01T00:00:00Z"), Public: sk.PublicKey()}
	a, err := Announce("town-hall", &Signer{Key: priv, KID: kid}, k)
	if err != nil {
		t.Fatal(err)
	}
	return a, priv, ikm
}

// TestAnnouncementVector checks testdata/seal/announcement.json: the
// signing input byte for byte, the (deterministic) Ed25519 signature, and
// that Verify accepts it with the daemon key pinned.
func TestAnnouncementVector(t *testing.T) {
	a, priv, ikm := vectorAnnouncement(t)
	in, _ := a.SigningInput()
	if *update {
		der, err := x509.MarshalPKIXPublicKey(priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(a)
		v := annVector{
			Comment:      "An epoch key announcement (docs/sealed-jobs.md). The epoch key is vectors.json's first recipient. Regenerate with: go test ./queue/epoch -run TestAnnouncementVector -update",
			DaemonSeed:   hex.EncodeToString(priv.Seed()),
			DaemonPublic: hex.EncodeToString(priv.Public().(ed25519.PublicKey)),
			DaemonSPKI:   hex.EncodeToString(der),
			EpochIKM:     hex.EncodeToString(ikm),
			SigningInput: hex.EncodeToString(in),
			Announcement: raw,
		}
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(annPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(annPath)
	if err != nil {
		t.Fatalf("%v (make it with -update)", err)
	}
	var v annVector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if v.SigningInput != hex.EncodeToString(in) {
		t.Fatalf("signing input\n got %x\nwant %s", in, v.SigningInput)
	}
	stored, err := ParseAnnouncement(v.Announcement)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored.Sig, a.Sig) || stored.KID != a.KID || !bytes.Equal(stored.Public, a.Public) {
		t.Fatal("stored announcement differs from the one made now (Ed25519 is deterministic)")
	}
	kid, _ := keyfile.KIDHex(priv.Public())
	if stored.Daemon != kid {
		t.Fatalf("daemon %s, want %s", stored.Daemon, kid)
	}
	k, err := Verify(stored, "town-hall", []keyfile.Public{{KID: kid, Key: priv.Public()}})
	if err != nil || k.ID != a.KID {
		t.Fatalf("verify stored vector: %v", err)
	}
}
