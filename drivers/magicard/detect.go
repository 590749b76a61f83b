package magicard

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cityid/printerd/drivers"
)

// deviceIDer is a link that reads the printer's IEEE 1284 device id (USB
// printer class GET_DEVICE_ID).
type deviceIDer interface {
	DeviceID(ctx context.Context) (string, error)
}

// usbIDer is a link to a USB device that knows its vendor and product ids.
type usbIDer interface {
	USBIDs() (vendor, product uint16)
}

// Detect is a drivers.Detector: it names "magicard" for a printer URI
// with Magicard's USB vendor id (usb://0c1f:1800), a USB link to a device
// with that vendor id, or a link whose IEEE 1284 device id says
// MFG:Magicard; otherwise "".
func Detect(ctx context.Context, u *url.URL, link drivers.Link) string {
	if u != nil && u.Scheme == "usb" {
		hostport := u.Host
		if hostport == "" {
			hostport = u.Opaque
		}
		vid, _, _ := strings.Cut(hostport, ":")
		if v, err := strconv.ParseUint(vid, 16, 16); err == nil && v == VendorID {
			return "magicard"
		}
	}
	if l, ok := link.(usbIDer); ok {
		if v, _ := l.USBIDs(); v == VendorID {
			return "magicard"
		}
	}
	if l, ok := link.(deviceIDer); ok {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if id, err := l.DeviceID(ctx); err == nil && IsMagicard(id) {
			return "magicard"
		}
	}
	return ""
}

// IsMagicard reports whether an IEEE 1284 device id names Magicard as the
// manufacturer (MFG or MANUFACTURER; Magicard pads it with a space).
func IsMagicard(deviceID string) bool {
	f := DeviceIDFields(deviceID)
	return strings.EqualFold(f["MFG"], "magicard") || strings.EqualFold(f["MANUFACTURER"], "magicard")
}

// DeviceIDFields splits an IEEE 1284 device id ("MFG:Magicard ; CMD:PCL,
// MPL;MDL:RioTango2D") into its keys and values, both trimmed of spaces.
func DeviceIDFields(id string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(id, ";") {
		k, v, ok := strings.Cut(part, ":")
		if !ok {
			continue
		}
		out[strings.ToUpper(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	return out
}
