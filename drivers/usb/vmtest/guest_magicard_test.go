//go:build usbvmguest

package vmtest

import (
	"context"
	"image"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/magicard"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/drivers/usb"
	"github.com/cityid/printerd/drivers/usbip"
)

// TestGuestMagicard attaches a simulated Magicard Enduro (KGE layout, USB
// 0c1f:4800) to vhci-hcd and opens it the way printerd does, through a
// registry that knows both languages: usb://auto and usb://0c1f:4800 must
// pick the Magicard driver (from the device's vendor id and the URI), which
// then prints a card through libusb and the kernel; every panel the
// simulator decodes matches the card.
func TestGuestMagicard(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	printer := sim.NewMagicard(sim.MagicardOptions{Layout: sim.MagicardKGE, Options: sim.Options{Name: "usbvm-mc", Serial: "MCVM0001"}})
	defer printer.Close()
	gadget := usbip.New(usbip.Config{VendorID: magicard.VendorID, ProductID: printer.USBProduct(), Manufacturer: "Magicard",
		Product: "Enduro 3E (usbvm)", Serial: "MCVM0001"}, printer)
	defer gadget.Close()
	go gadget.Run(ctx, printer.Serve)
	attachErr := make(chan error, 1)
	go func() { attachErr <- usbip.AttachVHCI(ctx, gadget, 1, nil) }()
	waitFor(t, "the kernel to enumerate the simulated Magicard", 10*time.Second, func() bool {
		select {
		case err := <-attachErr:
			t.Fatalf("attach to vhci-hcd: %v", err)
		default:
		}
		m, _ := filepath.Glob("/sys/bus/usb/devices/*/idVendor")
		for _, f := range m {
			if b, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(b)) == "0c1f" {
				return true
			}
		}
		return false
	})
	reg := &drivers.Registry{}
	var lang string
	for _, err := range []error{
		reg.RegisterTransport("usb", usb.Transport),
		reg.RegisterLanguage("evolis", func(l drivers.Link, q url.Values) (drivers.Printer, error) {
			lang = "evolis"
			return evolis.Language(l, q)
		}),
		reg.RegisterLanguage("magicard", func(l drivers.Link, q url.Values) (drivers.Printer, error) {
			lang = "magicard"
			return magicard.Language(l, q)
		}),
		reg.RegisterDetector(magicard.Detect),
		reg.RegisterParams("usb", usb.Params...),
		reg.RegisterParams("evolis", evolis.Params...),
		reg.RegisterParams("magicard", magicard.Params...),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, uri := range []string{"usb://auto?poll=20ms", "usb://0c1f:4800?serial=MCVM0001&poll=20ms"} {
		lang = ""
		op, err := reg.Open(ctx, uri)
		if err != nil {
			t.Fatalf("open %s: %v", uri, err)
		}
		if lang != "magicard" {
			op.Close()
			t.Fatalf("%s opened the %q driver, want magicard", uri, lang)
		}
		card := testCard("mcvm")
		if err := op.Print(ctx, card); err != nil {
			op.Close()
			t.Fatalf("Print over USB (%s): %v", uri, err)
		}
		c, err := op.Counters(ctx)
		op.Close()
		if err != nil || c.Printed != i+1 {
			t.Fatalf("Counters = %+v, %v; want %d printed", c, err, i+1)
		}
		cards := printer.Cards()
		got := cards[len(cards)-1].FrontPanels
		for name, pair := range map[string][2]*image.Gray{"Y": {card.Front.Y, got.Y}, "K": {card.Front.K, got.K}} {
			if bad := differ(pair[0], pair[1], name == "Y"); bad > 0 {
				t.Fatalf("%s plane: %d dots differ from the card sent", name, bad)
			}
		}
	}
	t.Logf("Magicard over USB: %q", printer.DeviceID())
}

// differ counts the printed dots (design rows 3..644) where the decoded
// plane is not the sent one at the Magicard's depth (6 bits colour, 1 bit
// K).
func differ(want, got *image.Gray, colour bool) int {
	if want == nil || got == nil {
		return -1
	}
	bad := 0
	for y := magicard.CropTop; y < magicard.CropTop+magicard.ImageDots; y++ {
		for x := 0; x < want.Rect.Dx(); x++ {
			w := want.Pix[y*want.Stride+x]
			exp := uint8(0)
			switch {
			case colour:
				exp = uint8((int(w>>2)*255 + 31) / 63)
			case w >= 128:
				exp = 255
			}
			if got.Pix[y*got.Stride+x] != exp {
				bad++
			}
		}
	}
	return bad
}
