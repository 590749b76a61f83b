package usbip

import (
	"context"
	"strings"
	"testing"

	"github.com/cityid/printerd/drivers/sim"
)

// The simulator behind the USB device: class requests come from its state
// and the bulk endpoints carry its command language.
func TestWithSimulator(t *testing.T) {
	printer := sim.New(sim.Options{Name: "usbip-test", Serial: "SIM4242", Firmware: "9.9.9-test"})
	d := New(Config{Serial: "SIM4242"}, printer)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx, printer.Serve)
	defer d.Close()
	h := newHost(t, d)

	r := h.control(0xA1, reqGetDeviceID, 0, 0, 1023)
	if got := string(r.data[2:]); got != printer.DeviceID() || !strings.Contains(got, "SN:SIM4242;") {
		t.Fatalf("GET_DEVICE_ID = %q, want the simulator's %q", got, printer.DeviceID())
	}
	if r := h.control(0xA1, reqGetPortStatus, 0, 0, 1); r.data[0] != printer.PortStatus() || r.data[0]&0x18 != 0x18 {
		t.Fatalf("GET_PORT_STATUS = %#x, want %#x", r.data[0], printer.PortStatus())
	}
	printer.SetCover(true)
	if r := h.control(0xA1, reqGetPortStatus, 0, 0, 1); r.data[0]&0x08 != 0 {
		t.Fatalf("GET_PORT_STATUS with the cover open = %#x, want not-error clear", r.data[0])
	}
	// SOFT_RESET is the simulator's soft reset: the cover closes.
	h.control(0x21, reqSoftReset, 0, 0, 0)
	if printer.State().CoverOpen {
		t.Fatal("SOFT_RESET did not reach the simulator")
	}

	// A command on bulk OUT, its reply on bulk IN.
	cmd := []byte("\x1bRfv\r")
	seq := h.next(false)
	h.send(encodeSubmit(seq, 0, dirOut, epOut, len(cmd), [8]byte{}, cmd))
	h.wait()
	in := h.next(true)
	h.send(encodeSubmit(in, 0, dirIn, epIn, 512, [8]byte{}, nil))
	if r := h.wait(); r.seq != in || string(r.data) != "9.9.9-test\r" {
		t.Fatalf("reply to Rfv = %q, want the firmware version", r.data)
	}
}
