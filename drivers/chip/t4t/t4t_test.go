package t4t_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/cityid/printerd/drivers/chip"
	"github.com/cityid/printerd/drivers/chip/t4t"
	"github.com/cityid/printerd/drivers/chip/vchip"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestCC(t *testing.T) {
	cc := t4t.CC{Version: 0x20, MLe: 0x3B, MLc: 0x34, FileID: 0xE104, MaxSize: 0x0800}
	b := cc.Marshal()
	if want := mustHex("000F 20 003B 0034 0406 E104 0800 00 00"); !bytes.Equal(b, want) {
		t.Fatalf("Marshal = % X, want % X", b, want)
	}
	got, err := t4t.ParseCC(b)
	if err != nil || got != cc {
		t.Fatalf("ParseCC = %+v, %v", got, err)
	}
	// proprietary TLVs after the NDEF file control TLV are allowed
	if _, err := t4t.ParseCC(mustHex("0017 20 003B 0034 0406 E104 0800 00 FF 0506 E105 0100 00 00")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, hex, rule string }{
		{"short", "000F 20 003B", "bytes, want at least 15"},
		{"cclen", "0010 20 003B 0034 0406 E104 0800 00 00", "CCLEN 16"},
		{"version", "000F 10 003B 0034 0406 E104 0800 00 00", "byte 2"},
		{"mle", "000F 20 000E 0034 0406 E104 0800 00 00", "MLe 14"},
		{"mlc", "000F 20 003B 0000 0406 E104 0800 00 00", "MLc 0"},
		{"tlv", "000F 20 003B 0034 0506 E104 0800 00 00", "bytes 7-8"},
		{"file id", "000F 20 003B 0034 0406 E103 0800 00 00", "reserved"},
		{"size", "000F 20 003B 0034 0406 E104 0004 00 00", "bytes 11-12"},
		{"size max", "000F 20 003B 0034 0406 E104 FFFF 00 00", "bytes 11-12"},
		{"read", "000F 20 003B 0034 0406 E104 0800 80 00", "byte 13"},
		{"write", "000F 20 003B 0034 0406 E104 0800 00 80", "byte 14"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := t4t.ParseCC(mustHex(tc.hex))
			if err == nil || !strings.Contains(err.Error(), tc.rule) {
				t.Fatalf("ParseCC = %v, want an error naming %q", err, tc.rule)
			}
		})
	}
}

func FuzzParseCC(f *testing.F) {
	f.Add(mustHex("000F 20 003B 0034 0406 E104 0800 00 00"))
	f.Add(mustHex("0017 20 003B 0034 0406 E104 0800 00 FF 0506 E105 0100 00 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cc, err := t4t.ParseCC(b)
		if err != nil {
			return
		}
		again, err := t4t.ParseCC(cc.Marshal())
		if err != nil || again != cc {
			t.Fatalf("accepted CC does not round-trip: %+v %v", again, err)
		}
	})
}

// TestEncodeDirect runs the host side against the virtual chip directly
// (no PC/SC) for chunk sizes around the message length.
func TestEncodeDirect(t *testing.T) {
	msg := bytes.Repeat([]byte{0xC3}, 300)
	msg[0] = 0x00 // content does not matter to the tag
	for _, tc := range []struct {
		name     string
		mle, mlc uint16
	}{
		{"minimum chunks", 15, 1},
		{"odd chunks", 61, 59},
		{"full", 256, 255},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := vchip.New(vchip.Options{MLe: tc.mle, MLc: tc.mlc, UID: mustHex("04A1B2C3D4E5F6")})
			if err != nil {
				t.Fatal(err)
			}
			res, err := t4t.Encode(context.Background(), c, msg)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Locked || res.Written != 302 || !bytes.Equal(res.UID, mustHex("04A1B2C3D4E5F6")) {
				t.Fatalf("result %+v", res)
			}
			im := c.Image()
			got, err := im.Message()
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("image message: %v", err)
			}
			if !im.Locked() {
				t.Fatal("image not locked")
			}
		})
	}
}

func TestEncodeDirectFaults(t *testing.T) {
	msg := bytes.Repeat([]byte{1}, 100)
	for _, tc := range []struct {
		name string
		opts vchip.Options
		code chip.Code
	}{
		{"refuses", vchip.Options{Fault: vchip.RefuseWrites}, chip.WriteRefused},
		{"removed", vchip.Options{Fault: vchip.RemoveMidWrite, RemoveAfter: 1}, chip.Removed},
		{"missing", vchip.Options{Fault: vchip.Missing}, chip.Removed},
		{"too small", vchip.Options{Size: 64}, chip.TooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := vchip.New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = t4t.Encode(context.Background(), c, msg)
			if !errors.Is(err, tc.code) || !chip.Spoiled(err) {
				t.Fatalf("Encode = %v, want %v", err, tc.code)
			}
		})
	}
}

func TestImage(t *testing.T) {
	c, err := vchip.New(vchip.Options{Size: 64, UID: mustHex("01020304")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := t4t.Encode(context.Background(), c, []byte{0xD0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	b, err := c.Image().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	im, err := t4t.ParseImage(b)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := im.Message(); !bytes.Equal(m, []byte{0xD0, 0, 0}) || !im.Locked() || !bytes.Equal(im.UID, mustHex("01020304")) {
		t.Fatalf("image round trip: %+v", im)
	}
	for _, tc := range []struct{ name, json, rule string }{
		{"format", `{"format":"x","uid":"","cc":"","ndef_file":""}`, "format"},
		{"unknown field", `{"format":"printerd-chip-image/1","uid":"","cc":"","ndef_file":"","name":"x"}`, "unknown field"},
		{"hex", `{"format":"printerd-chip-image/1","uid":"zz","cc":"","ndef_file":""}`, "uid"},
		{"cc", `{"format":"printerd-chip-image/1","uid":"","cc":"00","ndef_file":""}`, "capability container"},
		{"size", `{"format":"printerd-chip-image/1","uid":"","cc":"000f2000ff00ff0406e104004000ff","ndef_file":"0000"}`, "the CC says 64"},
		{"trailing", string(b) + "{}", "after the JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := t4t.ParseImage([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.rule) {
				t.Fatalf("ParseImage = %v, want an error naming %q", err, tc.rule)
			}
		})
	}
	for _, tc := range []struct {
		f    string
		rule string
	}{{"00", "at least 2"}, {"0000", "NLEN 0"}, {"0005 01", "only 1"}} {
		if _, err := t4t.MessageFromFile(mustHex(tc.f)); err == nil || !strings.Contains(err.Error(), tc.rule) {
			t.Errorf("MessageFromFile(%s) = %v, want %q", tc.f, err, tc.rule)
		}
	}
}
