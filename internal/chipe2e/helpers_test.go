package chipe2e_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers/chip/vchip"
	"github.com/cityid/printerd/drivers/pcsc"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout/barcode"
)

// person is an obviously invented person with values distinctive enough
// to be searched for in a chip image.
var person = barcode.Claims{
	Issuer: "CITY", Issued: "2026-11-25", Expires: "2036-11-24",
	Number: "C-904417-2", Issue: 2, Name: "Quillon Xavienne Brumblewick", DOB: "1964-02-29", Gender: "nonbinary",
}

// personal are the person's values as they could appear on a chip: the
// name and its parts, the birth date in both forms, the gender text.
var personal = []string{"Quillon", "Xavienne", "Brumblewick", "1964-02-29", "19640229", "nonbinary"}

const can = "2718 2818 2845"

// signPerson signs the person with a fresh issuer key.
func signPerson(t testing.TB) (string, []keyfile.Public) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	text, err := barcode.Sign(person, key)
	if err != nil {
		t.Fatal(err)
	}
	return text, []keyfile.Public{{Key: key.Public()}}
}

// findPersonal returns the personal values found in b: as bytes, or in
// what any zlib stream starting anywhere in b inflates to (the barcode's
// credential is zlib-compressed, so its clear form hides the name from a
// plain byte search).
func findPersonal(b []byte) []string {
	var found []string
	look := func(hay []byte) {
		for _, v := range personal {
			if bytes.Contains(hay, []byte(v)) && !strings.Contains(strings.Join(found, "\x00"), v) {
				found = append(found, v)
			}
		}
	}
	look(b)
	for i := range b {
		if b[i]&0x0f != 8 {
			continue
		}
		zr, err := zlib.NewReader(bytes.NewReader(b[i:]))
		if err != nil {
			continue
		}
		out, _ := io.ReadAll(io.LimitReader(zr, 1<<16))
		look(out)
	}
	return found
}

// insert puts a new virtual chip into reader 0 and waits until PC/SC sees
// it; the chip is removed, and its removal seen, at the end of the test.
func insert(t testing.TB, opts vchip.Options) *vchip.Chip {
	t.Helper()
	c, err := vchip.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Insert(ctx, vchip.Addr0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remove(t, c) })
	if opts.Fault != vchip.Missing {
		if err := pcsc.WaitCard(ctx, vchip.Reader0); err != nil {
			t.Fatalf("the inserted chip did not show up at %s: %v", vchip.Reader0, err)
		}
	}
	return c
}

// remove takes the chip out and waits until PC/SC has seen it go, so the
// next test starts with an empty reader.
func remove(t testing.TB, c *vchip.Chip) {
	t.Helper()
	c.Remove()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pcsc.WaitRemoved(ctx, vchip.Reader0); err != nil {
		t.Errorf("the removed chip still shows at %s: %v", vchip.Reader0, err)
	}
}
