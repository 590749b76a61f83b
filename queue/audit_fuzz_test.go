package queue

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzVerifyChains: any export, however malformed, is verified or refused
// with an error, never a panic, and a refusal wraps ErrChainBroken.
func FuzzVerifyChains(f *testing.F) {
	_, k, _ := ed25519.GenerateKey(nil)
	sg, _ := NewAuditSigner(k)
	r := AuditRecord{Seq: 1, Site: "s1", Daemon: sg.KID, Action: AuditPrinted}
	r.sign(k)
	good, _ := json.Marshal(r)
	f.Add("cards.audit.s1."+sg.KID, uint64(1), good)
	f.Add("cards.audit.s1.x", uint64(0), []byte(`{"seq":1}`))
	f.Add("", uint64(7), []byte(`[`))
	keys := AuditKeys{sg.KID: k.Public().(ed25519.PublicKey)}
	f.Fuzz(func(t *testing.T, subject string, sseq uint64, rec []byte) {
		recs := []ExportedRecord{{Subject: subject, StreamSeq: sseq, Record: rec}}
		if _, err := VerifyChains("s1", recs, keys); err != nil && !errors.Is(err, ErrChainBroken) {
			t.Fatalf("VerifyChains error does not wrap ErrChainBroken: %v", err)
		}
	})
}
