package barcode_test

import (
	"crypto/ed25519"
	"fmt"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout/barcode"
)

// The whole round trip: sign the printed fields, draw the QR code at 4
// printer dots a module, read it back from the image and verify it.
func Example() {
	seed := make([]byte, ed25519.SeedSize) // a fixed key for a stable example
	key := ed25519.NewKeyFromSeed(seed)
	kid, _ := keyfile.KIDHex(key.Public())
	trusted := []keyfile.Public{{KID: kid, Key: key.Public()}}

	want := barcode.Claims{
		Issuer: "CITY", Issued: "2026-11-25", Expires: "2036-11-24",
		Number: "C-000001-0", Issue: 1, Name: "Ada Example", DOB: "1970-01-01", Gender: "woman",
	}
	text, err := barcode.Sign(want, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err := barcode.QR(text, barcode.ECQ, 4)
	if err != nil {
		fmt.Println(err)
		return
	}
	scanned, err := barcode.Scan(img)
	if err != nil {
		fmt.Println(err)
		return
	}
	got, signer, err := barcode.Verify(scanned, trusted)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signed by the trusted key:", signer == kid)
	fmt.Println("fields match:", barcode.Compare(got, want) == nil)

	got.Name = "Eve Example"
	fmt.Println(barcode.Compare(got, want))
	// Output:
	// signed by the trusted key: true
	// fields match: true
	// barcode: signed field Name differs from the job
}
