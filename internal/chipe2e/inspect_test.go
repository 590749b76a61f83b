package chipe2e_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers/chip/vchip"
	"github.com/cityid/printerd/drivers/pcsc"
	"github.com/cityid/printerd/layout/credential"
)

// TestInspectChip: diagnostics see the chip at the reader (present, UID,
// used and free space, locked) and never its content; an empty reader is
// "not present", not an error.
func TestInspectChip(t *testing.T) {
	ctx := context.Background()
	in, err := pcsc.Inspect(ctx, vchip.Reader0, 500*time.Millisecond)
	if err != nil || in.Present {
		t.Fatalf("empty reader: %+v, %v", in, err)
	}
	text, _ := signPerson(t)
	msg, err := credential.Encode(text, "271828182845")
	if err != nil {
		t.Fatal(err)
	}
	c := insert(t, vchip.Options{Size: 1024})
	enc := pcsc.NewEncoder(pcsc.Options{})
	if _, err := enc.Encode(ctx, vchip.Reader0, msg); err != nil {
		t.Fatal(err)
	}
	in, err = pcsc.Inspect(ctx, "Virtual PCD 00 00", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := pcsc.Inspection{Reader: vchip.Reader0, Present: true, UID: hex.EncodeToString(c.UID()), NDEF: true,
		Capacity: 1022, Used: len(msg), Free: 1022 - len(msg), Locked: true}
	if in != want {
		t.Errorf("inspection %+v, want %+v", in, want)
	}
	b, _ := json.Marshal(in)
	if bytes.Contains(b, msg[len(msg)-32:]) || bytes.Contains(b, []byte(hex.EncodeToString(msg[len(msg)-16:]))) {
		t.Error("the inspection shows the chip's content")
	}
}
