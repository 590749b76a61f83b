package chipe2e_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers/chip"
	"github.com/cityid/printerd/drivers/chip/t4t"
	"github.com/cityid/printerd/drivers/chip/vchip"
	"github.com/cityid/printerd/drivers/pcsc"
	"github.com/cityid/printerd/internal/ndef"
	"github.com/cityid/printerd/layout/barcode"
	"github.com/cityid/printerd/layout/credential"
)

func TestReaders(t *testing.T) {
	r, err := pcsc.Readers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{vchip.Reader0, vchip.Reader1} {
		if !slices.Contains(r, want) {
			t.Errorf("readers %q: %q missing", r, want)
		}
	}
	got, err := pcsc.MatchReader(r, "Virtual PCD 00 01")
	if err != nil || got != vchip.Reader1 {
		t.Errorf("MatchReader exact = %q, %v", got, err)
	}
}

func TestMatchReader(t *testing.T) {
	two := []string{"ACS ACR1252 1S CL Reader [ACR1252 Dual Reader PICC] 00 00", "ACS ACR1252 1S CL Reader [ACR1252 Dual Reader SAM] 00 01"}
	for _, tc := range []struct {
		readers []string
		want    string
		got     string
	}{
		{two[:1], "", two[0]},
		{two, "", ""},
		{two, "ACS ACR1252 1S CL Reader [ACR1252 Dual Reader PICC]", two[0]},
		{two, "ACS", ""},
		{two, two[1], two[1]},
		{nil, "x", ""},
	} {
		got, err := pcsc.MatchReader(tc.readers, tc.want)
		if got != tc.got || (tc.got == "") != (err != nil) {
			t.Errorf("MatchReader(%d readers, %q) = %q, %v; want %q", len(tc.readers), tc.want, got, err, tc.got)
		}
		if err != nil && !errors.Is(err, chip.NoReader) {
			t.Errorf("MatchReader error %v is not NoReader", err)
		}
	}
}

// TestEncodeCredential is the whole chip path through the real pcscd and
// vpcd: the host writes the sealed credential, reads it back, compares
// and locks; the chip image opens with the printed CAN to the barcode's
// own signed bytes, which verify with the issuer key to the person's
// fields; without the CAN nothing personal is on the chip.
func TestEncodeCredential(t *testing.T) {
	text, keys := signPerson(t)
	msg, err := credential.Encode(text, can)
	if err != nil {
		t.Fatal(err)
	}
	c := insert(t, vchip.Options{MLe: 64, MLc: 50}) // small chunks: several APDUs each way
	ctx := context.Background()
	res, err := pcsc.NewEncoder(pcsc.Options{}).Encode(ctx, vchip.Reader0, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Locked {
		t.Error("the chip was not locked")
	}
	if !bytes.Equal(res.UID, c.UID()) {
		t.Errorf("UID % x, the chip's is % x", res.UID, c.UID())
	}
	if res.Written != len(msg)+2 {
		t.Errorf("Written %d, want %d", res.Written, len(msg)+2)
	}

	img := c.Image()
	if !img.Locked() {
		t.Error("the chip image is not locked")
	}
	onChip, err := img.Message()
	if err != nil {
		t.Fatal(err)
	}
	got, err := credential.Decode(onChip, can)
	if err != nil {
		t.Fatal(err)
	}
	if got != text {
		t.Fatal("the chip's credential is not the barcode's signed bytes")
	}
	claims, _, err := barcode.Verify(got, keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := barcode.Compare(claims, person); err != nil {
		t.Fatal(err)
	}
	raw, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if found := findPersonal(slices.Concat(raw, img.UID, img.CC, img.NDEF)); len(found) > 0 {
		t.Fatalf("the chip image shows %q without the CAN", found)
	}
	if _, err := credential.Decode(onChip, "271828182846"); !errors.Is(err, credential.ErrCAN) {
		t.Fatalf("a wrong CAN: %v, want ErrCAN", err)
	}

	// Locked: a second encoding is refused through PC/SC, and the chip is unchanged.
	_, err = pcsc.NewEncoder(pcsc.Options{}).Encode(ctx, vchip.Reader0, msg[:len(msg)-1])
	if !errors.Is(err, chip.WriteRefused) || !chip.Spoiled(err) {
		t.Fatalf("writing a locked chip: %v, want WriteRefused", err)
	}
	if !bytes.Equal(c.Image().NDEF, img.NDEF) {
		t.Fatal("the locked chip changed")
	}
}

// TestFindPersonalControl is the positive control for the search above: a
// chip carrying the same credential unencrypted shows the person.
func TestFindPersonalControl(t *testing.T) {
	text, _ := signPerson(t)
	cred, err := barcode.Base45Decode(text)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ndef.Marshal(ndef.Record{TNF: ndef.TNFExternal, Type: []byte("cityid.example:plain"), Payload: cred})
	if err != nil {
		t.Fatal(err)
	}
	c := insert(t, vchip.Options{})
	if _, err := pcsc.NewEncoder(pcsc.Options{}).Encode(context.Background(), vchip.Reader0, plain); err != nil {
		t.Fatal(err)
	}
	img := c.Image()
	if found := findPersonal(img.NDEF); len(found) != len(personal)-1 { // "1964-02-29" is signed as 19640229
		t.Fatalf("the search found %q in a chip with the clear credential, want all of %q but the dashed date", found, personal)
	}
}

// TestFaults: each chip fault ends in a typed error that says the card is
// spoiled, and a chip removed in the middle of a write is left empty, not
// torn.
func TestFaults(t *testing.T) {
	text, _ := signPerson(t)
	msg, err := credential.Encode(text, can)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		opts  vchip.Options
		code  chip.Code
		empty bool // the NDEF file's length field must be 0 afterwards
	}{
		{"missing", vchip.Options{Fault: vchip.Missing}, chip.NoChip, true},
		{"refuses writes 6982", vchip.Options{Fault: vchip.RefuseWrites}, chip.WriteRefused, true},
		{"refuses writes 6A82", vchip.Options{Fault: vchip.RefuseWrites, RefuseSW: t4t.SWNotFound}, chip.WriteRefused, true},
		{"removed before the first write", vchip.Options{Fault: vchip.RemoveMidWrite}, chip.Removed, true},
		{"removed mid-write", vchip.Options{Fault: vchip.RemoveMidWrite, RemoveAfter: 2}, chip.Removed, true},
		{"removed before the length", vchip.Options{Fault: vchip.RemoveMidWrite, RemoveAfter: 4, MLc: 255}, chip.Removed, true},
		{"too small", vchip.Options{Size: 256}, chip.TooLarge, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := insert(t, tc.opts)
			start := time.Now()
			_, err := pcsc.NewEncoder(pcsc.Options{CardTimeout: 1500 * time.Millisecond}).Encode(context.Background(), vchip.Reader0, msg)
			if !errors.Is(err, tc.code) {
				t.Fatalf("Encode: %v, want code %v", err, tc.code)
			}
			if !chip.Spoiled(err) {
				t.Fatalf("Encode: %v does not say the card is spoiled", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the failure took %v", d)
			}
			if tc.empty {
				if n := binary.BigEndian.Uint16(c.Image().NDEF); n != 0 {
					t.Errorf("NDEF length field %d after the failure, want 0", n)
				}
			}
		})
	}
}

func TestNoLock(t *testing.T) {
	c := insert(t, vchip.Options{NoLock: true})
	msg := []byte{0xD4, 3, 2, 'a', ':', 'b', 1, 2}
	res, err := pcsc.NewEncoder(pcsc.Options{}).Encode(context.Background(), vchip.Reader0, msg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Locked || c.Image().Locked() {
		t.Fatal("a chip that refuses the lock was reported locked")
	}
	got, err := c.Image().Message()
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("chip holds % x, %v", got, err)
	}
}

func TestEncoderErrors(t *testing.T) {
	_, err := pcsc.NewEncoder(pcsc.Options{}).Encode(context.Background(), "No Such Reader 00 00", []byte{0xD0, 0, 0})
	if !errors.Is(err, chip.NoReader) || chip.Spoiled(err) {
		t.Fatalf("unknown reader: %v, want NoReader and not spoiled", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	start := time.Now()
	err = pcsc.WaitCard(ctx, vchip.Reader1) // nothing is ever inserted there
	if !errors.Is(err, chip.NoChip) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the wait returned %v after its context ended", d)
	}
}
