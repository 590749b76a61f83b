package magicard_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/magicard"
	"github.com/cityid/printerd/drivers/sim"
)

// fakeLink is a link to a USB device that knows its ids and device id.
type fakeLink struct {
	vendor, product uint16
	deviceID        string
}

func (f *fakeLink) Write(context.Context, []byte) (int, error) { return 0, nil }
func (f *fakeLink) Read(context.Context, []byte) (int, error)  { return 0, nil }
func (f *fakeLink) Reset(context.Context) error                { return nil }
func (f *fakeLink) Close() error                               { return nil }
func (f *fakeLink) USBIDs() (uint16, uint16)                   { return f.vendor, f.product }
func (f *fakeLink) DeviceID(context.Context) (string, error)   { return f.deviceID, nil }

// TestRegistryPicksMagicard checks that a registry with magicard.Detect
// opens a Magicard driver from the URI's vendor id, the device's USB
// vendor id or its IEEE 1284 device id, and Evolis otherwise or when the
// URI says lang=evolis.
func TestRegistryPicksMagicard(t *testing.T) {
	tests := []struct {
		uri  string
		link fakeLink
		want string
	}{
		{"usb://0c1f:1800", fakeLink{}, "magicard"},
		{"usb://auto", fakeLink{vendor: 0x0C1F, product: 0x4800}, "magicard"},
		{"usb://auto", fakeLink{vendor: 0x1234, deviceID: "MFG:Magicard ; CMD:PCL,MPL;MDL:RioTango2D"}, "magicard"},
		{"usb://auto", fakeLink{vendor: 0x0F49, deviceID: "MFG:Evolis;MDL:Primacy;"}, "evolis"},
		{"usb://0c1f:1800?lang=evolis", fakeLink{vendor: 0x0C1F}, "evolis"},
		{"tcp://127.0.0.1:9100?lang=magicard", fakeLink{}, "magicard"},
	}
	for _, tc := range tests {
		r := &drivers.Registry{}
		link := tc.link
		open := func(context.Context, *url.URL) (drivers.LinkCloser, error) { return &link, nil }
		var got string
		lang := func(name string) drivers.Language {
			return func(l drivers.Link, _ url.Values) (drivers.Printer, error) {
				got = name
				return magicard.New(l, magicard.Options{}), nil
			}
		}
		for _, err := range []error{r.RegisterTransport("usb", open), r.RegisterTransport("tcp", open),
			r.RegisterLanguage("evolis", lang("evolis")), r.RegisterLanguage("magicard", lang("magicard")), r.RegisterDetector(magicard.Detect)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		o, err := r.Open(context.Background(), tc.uri)
		if err != nil {
			t.Fatalf("%s: %v", tc.uri, err)
		}
		o.Close()
		if got != tc.want {
			t.Errorf("%s with %+v: language %s, want %s", tc.uri, tc.link, got, tc.want)
		}
	}
}

// usbLink is a TCP link that also reports USB ids, as a USB link does.
type usbLink struct {
	drivers.LinkCloser
	pid uint16
}

func (u usbLink) USBIDs() (uint16, uint16) { return magicard.VendorID, u.pid }

// TestLayoutFromProductID checks that a printer whose model name the
// driver does not know prints with the layout of its USB product id
// (0x4800 Enduro: KGE), and is refused without one.
func TestLayoutFromProductID(t *testing.T) {
	dev := sim.NewMagicard(sim.MagicardOptions{Layout: sim.MagicardKGE, Options: sim.Options{Model: "Mystery 9"}})
	tcpLink := openTCP(t, serveTCP(t, dev))
	ctx := context.Background()
	if err := magicard.New(tcpLink, testOpts).Print(ctx, municipal(t, "a")); !errors.Is(err, drivers.BadCommand) || drivers.Fed(err) {
		t.Fatalf("unknown model without USB ids: %v, want bad-command before feed", err)
	}
	if err := magicard.New(usbLink{tcpLink, magicard.ProductEnduro}, testOpts).Print(ctx, municipal(t, "b")); err != nil {
		t.Fatalf("unknown model on USB 0c1f:4800: %v", err)
	}
	if n := dev.Counters().Printed; n != 1 {
		t.Fatalf("printed %d, want 1", n)
	}
}
