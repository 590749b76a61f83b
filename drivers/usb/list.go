package usb

import (
	"context"
	"fmt"
	"net/url"
	"sort"

	"github.com/google/gousb"
)

// Device describes a USB printer-class device, as `printerd diag list`
// shows it.
type Device struct {
	Bus           int    `json:"bus"`
	Address       int    `json:"address"`
	VendorID      uint16 `json:"vendor_id"`
	ProductID     uint16 `json:"product_id"`
	Manufacturer  string `json:"manufacturer,omitempty"`
	Product       string `json:"product,omitempty"`
	Serial        string `json:"serial,omitempty"`
	Bidirectional bool   `json:"bidirectional"`
	// DeviceID is the IEEE 1284 device id, when it could be read.
	DeviceID string `json:"device_id,omitempty"`
	// URI opens this device (usb://<vid>:<pid>?serial=<serial>).
	URI string `json:"uri"`
	// Problem says why the device could not be opened or read, with a hint
	// to fix it (e.g. a udev rule for a permission problem).
	Problem string `json:"problem,omitempty"`
}

func describe(desc *gousb.DeviceDesc, ps printerSetting, m, p, s string) Device {
	d := Device{
		Bus: desc.Bus, Address: desc.Address,
		VendorID: uint16(desc.Vendor), ProductID: uint16(desc.Product),
		Manufacturer: m, Product: p, Serial: s, Bidirectional: ps.bidi,
	}
	d.URI = fmt.Sprintf("usb://%04x:%04x", d.VendorID, d.ProductID)
	if s != "" {
		d.URI += "?serial=" + url.QueryEscape(s)
	}
	return d
}

// HasBus reports whether this machine has a USB bus libusb can use; if
// not, the string says why.
func HasBus() (bool, string) { return defaultLib.hasBus() }

// List returns the USB printer-class devices attached to this machine. On a
// machine with no USB bus it returns no devices and no error (HasBus says
// why). A device that cannot be opened is listed with its Problem.
func List(ctx context.Context) ([]Device, error) {
	return listWith(ctx, defaultLib)
}

func listWith(ctx context.Context, l lib) ([]Device, error) {
	if ok, _ := l.hasBus(); !ok {
		return nil, nil
	}
	lc, err := l.newContext()
	if err != nil {
		return nil, fmt.Errorf("usb: list: %w", err)
	}
	defer lc.close()
	descs, err := lc.devices()
	if err != nil && len(descs) == 0 {
		return nil, fmt.Errorf("usb: list: %w", err)
	}
	var out []Device
	for _, desc := range descs {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("usb: list: %w", err)
		}
		ps, ok := findPrinterSetting(desc)
		if !ok {
			continue
		}
		dev, err := lc.open(desc)
		if err != nil {
			d := describe(desc, ps, "", "", "")
			d.Problem = openProblem(desc, err)
			out = append(out, d)
			continue
		}
		m, p, s := dev.strings()
		d := describe(desc, ps, m, p, s)
		buf := make([]byte, 1024)
		to, err := controlTimeout(ctx)
		if err == nil {
			var n int
			n, err = dev.control(to, rtClassIn, reqGetDeviceID, 0, uint16(ps.intf)<<8|uint16(ps.alt), buf)
			if err == nil {
				d.DeviceID, err = ParseDeviceID(buf[:n])
			}
		}
		if err != nil {
			d.Problem = fmt.Sprintf("reading the device id: %v", err)
		}
		dev.close()
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bus != out[j].Bus {
			return out[i].Bus < out[j].Bus
		}
		return out[i].Address < out[j].Address
	})
	return out, nil
}
