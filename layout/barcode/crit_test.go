package barcode

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/veraison/go-cose"

	"github.com/cityid/printerd/internal/keyfile"
)

// TestVerifyCriticalHeader: a properly signed code whose protected header
// marks a parameter critical (RFC 9052 "crit") that printerd does not
// process is refused: a verifier must not accept what it does not
// understand. A crit listing only alg and kid, which printerd processes,
// passes.
func TestVerifyCriticalHeader(t *testing.T) {
	key, pub := newKey(t, keyfile.ES256)
	text, err := Sign(fixture, key)
	if err != nil {
		t.Fatal(err)
	}
	payload := unpack(t, text).Payload
	kid, _ := keyfile.KID(key.Public())
	signed := func(crit []any, extra map[any]any) string {
		signer, err := cose.NewSigner(cose.AlgorithmES256, key)
		if err != nil {
			t.Fatal(err)
		}
		msg := cose.NewSign1Message()
		msg.Headers.Protected.SetAlgorithm(cose.AlgorithmES256)
		msg.Headers.Protected[cose.HeaderLabelKeyID] = kid
		msg.Headers.Protected[cose.HeaderLabelCritical] = crit
		for k, v := range extra {
			msg.Headers.Protected[k] = v
		}
		msg.Payload = payload
		if err := msg.Sign(rand.Reader, nil, signer); err != nil {
			t.Fatal(err)
		}
		return repack(t, msg, true)
	}
	keys := []keyfile.Public{pub}
	_, _, err = Verify(signed([]any{int64(99)}, map[any]any{int64(99): "must-understand"}), keys)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Stage != StageHeader || !strings.Contains(err.Error(), "crit") {
		t.Errorf("unknown critical header: %v; want a header format error naming crit", err)
	}
	_, _, err = Verify(signed([]any{"x-ext"}, map[any]any{"x-ext": 1}), keys)
	if !errors.As(err, &fe) || fe.Stage != StageHeader {
		t.Errorf("unknown critical text header: %v; want a header format error", err)
	}
	if _, _, err := Verify(signed([]any{int64(cose.HeaderLabelKeyID)}, nil), keys); err != nil {
		t.Errorf("crit naming kid, which printerd processes: %v", err)
	}
}
