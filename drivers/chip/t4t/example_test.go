package t4t_test

import (
	"context"
	"fmt"

	"github.com/cityid/printerd/drivers/chip/t4t"
	"github.com/cityid/printerd/drivers/chip/vchip"
)

// Encode a message onto a Type 4 tag. Here the tag is a virtual chip
// reached directly; a printer's encoder reaches the real one through
// drivers/pcsc (pcsc.NewEncoder(...).Encode does this over PC/SC).
func ExampleEncode() {
	c, err := vchip.New(vchip.Options{UID: []byte{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}})
	if err != nil {
		panic(err)
	}
	msg := []byte{0xD4, 0x03, 0x02, 'a', ':', 'b', 0x01, 0x02} // one external-type NDEF record
	res, err := t4t.Encode(context.Background(), c, msg)
	if err != nil {
		panic(err)
	}
	fmt.Printf("UID % X, %d bytes written, locked %v\n", res.UID, res.Written, res.Locked)
	// Output: UID 04 11 22 33 44 55 66, 10 bytes written, locked true
}
