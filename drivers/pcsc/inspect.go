package pcsc

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/cityid/printerd/drivers/chip"
	"github.com/cityid/printerd/drivers/chip/t4t"
)

// Inspection is what diagnostics say of the chip at a reader: whether one
// is there, its UID and how much of its NDEF file is used, never what the
// file holds.
type Inspection struct {
	Reader  string `json:"reader"`
	Present bool   `json:"present"`
	UID     string `json:"uid,omitempty"` // hex
	// NDEF is false for a chip without an NFC Forum Type 4 tag application.
	NDEF     bool `json:"ndef"`
	Capacity int  `json:"capacity,omitempty"` // bytes of message the NDEF file takes
	Used     int  `json:"used"`               // bytes of message it holds
	Free     int  `json:"free"`
	Locked   bool `json:"locked"`
}

// Inspect finds the reader (MatchReader), waits up to wait for a chip and
// reads its UID, capability container and NDEF length. No chip in time is
// Present false, not an error.
func Inspect(ctx context.Context, reader string, wait time.Duration) (Inspection, error) {
	readers, err := Readers(ctx)
	if err != nil {
		return Inspection{}, err
	}
	if reader, err = MatchReader(readers, reader); err != nil {
		return Inspection{}, err
	}
	in := Inspection{Reader: reader}
	wctx, cancel := context.WithTimeout(ctx, wait)
	card, err := connect(ctx, wctx, reader)
	cancel()
	if errors.Is(err, chip.NoChip) {
		return in, nil
	}
	if err != nil {
		return in, err
	}
	defer card.Close()
	in.Present = true
	uid, err := card.UID(ctx)
	if err != nil {
		return in, err
	}
	in.UID = hex.EncodeToString(uid)
	tag, err := t4t.Open(ctx, card)
	if errors.Is(err, chip.NotSupported) {
		return in, nil
	}
	if err != nil {
		return in, err
	}
	in.NDEF = true
	cc := tag.CC()
	in.Capacity, in.Locked = int(cc.MaxSize)-2, cc.Locked()
	if in.Used, err = tag.NDEFLength(ctx); err != nil {
		return in, err
	}
	in.Free = max(in.Capacity-in.Used, 0)
	return in, nil
}
