//go:build usbvmguest

package vmtest

// These tests run inside the QEMU guest that TestUSBVM boots, as root, with
// usbcore, vhci-hcd and usblp loaded and no udev. They talk to the kernel
// through libusb (gousb) exactly as printerd does on a real machine.

import (
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/drivers/usb"
	"github.com/cityid/printerd/drivers/usbip"
)

const (
	guestVID    = 0x0f49
	guestPID    = 0x1234
	guestSerial = "USBVM0001"
)

// testCard is a YMCKO card with a distinct pattern on every panel.
func testCard(label string) card.Card {
	c := card.Card{Label: label, Ribbon: card.YMCKO}
	var s card.Side
	s.Y, s.M, s.C, s.K, s.O = card.NewPlane(), card.NewPlane(), card.NewPlane(), card.NewPlane(), card.NewPlane()
	for y := 0; y < card.Height; y++ {
		for x := 0; x < card.Width; x++ {
			s.Y.SetGray(x, y, color.Gray{Y: uint8(x * 255 / card.Width)})
			if x < 300 {
				s.M.SetGray(x, y, color.Gray{Y: 200})
			}
			if y < 100 {
				s.C.SetGray(x, y, color.Gray{Y: 255})
			}
			if x >= 600 && x < 900 && y >= 500 && y < 560 {
				s.K.SetGray(x, y, color.Gray{Y: 255})
			}
			if (x/40+y/40)%2 == 0 {
				s.O.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	c.Front = s
	return c
}

// samePlanes compares the panels the simulator received with the card's:
// K and O exactly, Y, M and C within one step of the levels sent.
func samePlanes(t *testing.T, want, got card.Side, levels int) {
	t.Helper()
	tol := 255/(levels-1) + 1
	for _, pl := range []struct {
		name      string
		want, got *image.Gray
		tol       int
	}{
		{"y", want.Y, got.Y, tol}, {"m", want.M, got.M, tol}, {"c", want.C, got.C, tol},
		{"k", want.K, got.K, 0}, {"o", want.O, got.O, 0},
	} {
		if pl.got == nil || len(pl.got.Pix) != len(pl.want.Pix) {
			t.Errorf("panel %s not received whole", pl.name)
			continue
		}
		for i := range pl.want.Pix {
			if d := int(pl.want.Pix[i]) - int(pl.got.Pix[i]); d > pl.tol || -d > pl.tol {
				t.Errorf("panel %s: dot (%d,%d) = %d, want %d", pl.name, i%card.Width, i/card.Width, pl.got.Pix[i], pl.want.Pix[i])
				break
			}
		}
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// usbBusID returns the sysfs name (e.g. "1-1") of our device, or "".
func usbBusID() string {
	m, _ := filepath.Glob("/sys/bus/usb/devices/*/idVendor")
	for _, f := range m {
		b, err := os.ReadFile(f)
		if err == nil && strings.TrimSpace(string(b)) == "0f49" {
			return filepath.Base(filepath.Dir(f))
		}
	}
	return ""
}

// usblpBound reports whether usblp holds the printer interface.
func usblpBound(busid string) bool {
	_, err := os.Lstat("/sys/bus/usb/drivers/usblp/" + busid + ":1.0")
	return err == nil
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestGuest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	printer := sim.New(sim.Options{Name: "usbvm", Serial: guestSerial, Speed: 0.05})
	gadget := usbip.New(usbip.Config{VendorID: guestVID, ProductID: guestPID, Serial: guestSerial, Product: "Primacy (usbvm)"}, printer)
	defer gadget.Close()
	go gadget.Run(ctx, printer.Serve)
	attachErr := make(chan error, 1)
	go func() { attachErr <- usbip.AttachVHCI(ctx, gadget, 0, nil) }()

	var busid string
	waitFor(t, "the kernel to enumerate the simulated printer", 10*time.Second, func() bool {
		select {
		case err := <-attachErr:
			t.Fatalf("attach to vhci-hcd: %v", err)
		default:
		}
		busid = usbBusID()
		return busid != ""
	})
	t.Logf("simulated printer enumerated as %s", busid)

	t.Run("usblp-bound-first", func(t *testing.T) {
		waitFor(t, "usblp to bind the printer interface", 10*time.Second, func() bool { return usblpBound(busid) })
	})

	t.Run("list", func(t *testing.T) {
		devs, err := usb.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 1 {
			t.Fatalf("List = %+v, want one printer", devs)
		}
		d := devs[0]
		if d.VendorID != guestVID || d.Serial != guestSerial || !d.Bidirectional || d.DeviceID != printer.DeviceID() {
			t.Fatalf("List = %+v, want %04x serial %s id %q", d, guestVID, guestSerial, printer.DeviceID())
		}
	})

	t.Run("discovery-auto", func(t *testing.T) {
		c, err := usb.Open(ctx, mustURL(t, "usb://auto"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if info := c.Info(); info.Serial != guestSerial || info.VendorID != guestVID || info.ProductID != guestPID {
			t.Fatalf("usb://auto opened %+v", info)
		}
		if usblpBound(busid) {
			t.Fatal("usblp still bound after open: the driver did not detach it")
		}
	})

	t.Run("discovery-wrong-serial", func(t *testing.T) {
		_, err := usb.Open(ctx, mustURL(t, "usb://0f49:1234?serial=NOPE"))
		if !errors.Is(err, drivers.Offline) || !strings.Contains(err.Error(), "no printer-class device matching") {
			t.Fatalf("open with a wrong serial: %v, want Offline", err)
		}
	})

	conn, err := usb.Open(ctx, mustURL(t, "usb://0f49:1234?serial="+guestSerial))
	if err != nil {
		t.Fatalf("discovery by vid:pid?serial=: %v", err)
	}
	defer conn.Close()
	t.Run("discovery-vid-pid-serial", func(t *testing.T) {
		if info := conn.Info(); info.Serial != guestSerial {
			t.Fatalf("opened %+v", info)
		}
	})

	t.Run("device-id-and-port-status", func(t *testing.T) {
		id, err := conn.DeviceID(ctx)
		if err != nil || id != printer.DeviceID() {
			t.Fatalf("GET_DEVICE_ID = %q, %v; want %q", id, err, printer.DeviceID())
		}
		ps, err := conn.PortStatus(ctx)
		if err != nil || ps != printer.PortStatus() || ps&(usb.PortNotError|usb.PortSelected) != usb.PortNotError|usb.PortSelected {
			t.Fatalf("GET_PORT_STATUS = %#x, %v; want %#x", ps, err, printer.PortStatus())
		}
	})

	opts := evolis.Options{ReplyTimeout: 5 * time.Second, MotionTimeout: 20 * time.Second}
	p := evolis.New(conn, opts)

	t.Run("print-ymcko-card", func(t *testing.T) {
		info, err := p.Info(ctx)
		if err != nil || info.Serial != guestSerial {
			t.Fatalf("Info = %+v, %v", info, err)
		}
		c := testCard("usbvm-1")
		start := time.Now()
		if err := p.Print(ctx, c); err != nil {
			t.Fatalf("Print: %v", err)
		}
		t.Logf("YMCKO card printed over USB in %v (%d bytes out)", time.Since(start), gadget.Stats().OutBytes)
		cards := printer.Cards()
		if len(cards) != 1 || cards[0].Label != "usbvm-1" && cards[0].Label != "card-0001" {
			t.Fatalf("simulator printed %d cards", len(cards))
		}
		samePlanes(t, c.Front, cards[0].FrontPanels, 32)
	})

	t.Run("status-and-counters", func(t *testing.T) {
		st, err := p.Status(ctx)
		if err != nil || !st.Ready {
			t.Fatalf("Status = %+v, %v; want ready", st, err)
		}
		c, err := p.Counters(ctx)
		if err != nil || c.Printed != 1 {
			t.Fatalf("Counters = %+v, %v; want 1 printed", c, err)
		}
	})

	t.Run("read-timeout-recovers", func(t *testing.T) {
		before := gadget.Stats().Unlinks
		rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := conn.Read(rctx, make([]byte, 64))
		cancel()
		if !errors.Is(err, drivers.Timeout) {
			t.Fatalf("Read with nothing to read: %v, want Timeout", err)
		}
		waitFor(t, "the kernel's CMD_UNLINK for the cancelled read", 5*time.Second, func() bool { return gadget.Stats().Unlinks > before })
		if _, err := p.Status(ctx); err != nil {
			t.Fatalf("Status after a read time-out: %v", err)
		}
	})

	t.Run("jam-over-usb", func(t *testing.T) {
		if err := printer.SetFault("jam=m"); err != nil {
			t.Fatal(err)
		}
		err := p.Print(ctx, testCard("usbvm-jam"))
		var de *drivers.Error
		if !errors.Is(err, drivers.CardJam) || !errors.As(err, &de) || de.Feed != drivers.AfterFeed {
			t.Fatalf("Print with a jam: %v, want CardJam after feed", err)
		}
		if err := p.Reset(ctx); err != nil {
			t.Fatalf("Reset after the jam: %v", err)
		}
		if st, err := p.Status(ctx); err != nil || !st.Ready {
			t.Fatalf("Status after the jam and reset = %+v, %v", st, err)
		}
	})

	t.Run("silent-printer-soft-reset", func(t *testing.T) {
		// The printer stops answering: the driver's read times out (the
		// kernel unlinks the bulk IN), it resets the link (USB SOFT_RESET,
		// which the simulator obeys) and the status read succeeds.
		if err := printer.SetFault("silent-after=0"); err != nil {
			t.Fatal(err)
		}
		unlinks := gadget.Stats().Unlinks
		st, err := p.Status(ctx)
		if err != nil || !st.Ready {
			t.Fatalf("Status of a silent printer = %+v, %v; want ready after the reset", st, err)
		}
		if gadget.Stats().Unlinks == unlinks {
			t.Fatal("no bulk IN was unlinked: the printer never went silent")
		}
	})

	t.Run("unplug-mid-card", func(t *testing.T) {
		printed := len(printer.Cards())
		errc := make(chan error, 1)
		go func() { errc <- p.Print(ctx, testCard("usbvm-2")) }()
		// Unplug once the printer has answered the command that feeds the
		// card (the first panel download): its OK is the first bulk IN
		// reply after the card went in.
		var replies int
		waitFor(t, "the card to be fed", 20*time.Second, func() bool {
			replies = gadget.Stats().BulkIn
			return printer.State().CardInside
		})
		end := time.Now().Add(10 * time.Second)
		for gadget.Stats().BulkIn <= replies && time.Now().Before(end) {
			time.Sleep(time.Millisecond)
		}
		gadget.Unplug()
		err := <-errc
		var de *drivers.Error
		if err == nil || !errors.As(err, &de) || de.Feed != drivers.AfterFeed {
			t.Fatalf("Print across an unplug: %v, want an after-feed failure", err)
		}
		if len(printer.Cards()) != printed {
			t.Fatalf("a card was completed across an unplug")
		}
		t.Logf("unplugged mid-card: %v", err)
		waitFor(t, "the device to leave the bus", 10*time.Second, func() bool { return usbBusID() == "" })
		gadget.Plug()
		replugged := time.Now()
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := conn.Reset(rctx); err != nil {
			t.Fatalf("Reset after replug: %v", err)
		}
		if info, err := p.Info(ctx); err != nil || info.Serial != guestSerial {
			t.Fatalf("Info after replug = %+v, %v", info, err)
		}
		t.Logf("printer found again %v after replug", time.Since(replugged).Round(time.Millisecond))
		// The spoiled card is still inside (the printer reports a jam)
		// until the printer is reset, as the queue does before the next job.
		if st, err := p.Status(ctx); err != nil || !st.Ready && !slices.Contains(st.Problems, drivers.CardJam) {
			t.Fatalf("Status after replug = %+v, %v; want ready or the spoiled card reported", st, err)
		}
		if err := p.Reset(ctx); err != nil {
			t.Fatalf("printer Reset after replug: %v", err)
		}
		if st, err := p.Status(ctx); err != nil || !st.Ready {
			t.Fatalf("Status after replug and reset = %+v, %v", st, err)
		}
		if err := p.Print(ctx, testCard("usbvm-3")); err != nil {
			t.Fatalf("Print after replug: %v", err)
		}
		if len(printer.Cards()) != printed+1 {
			t.Fatalf("cards printed %d, want %d", len(printer.Cards()), printed+1)
		}
	})
}

// TestGuestTCP runs after /init started `printerd sim --usbip 127.0.0.1:3240
// --out /tmp/cards` and attached it with Debian's `usbip attach -r
// 127.0.0.1 -b 1-1`, as a new user would.
func TestGuestTCP(t *testing.T) {
	ctx := context.Background()
	var conn *usb.Conn
	waitFor(t, "usb://auto to open the printer attached with usbip", 10*time.Second, func() bool {
		c, err := usb.Open(ctx, mustURL(t, "usb://auto"))
		if err != nil {
			return false
		}
		conn = c
		return true
	})
	defer conn.Close()
	info := conn.Info()
	id, err := conn.DeviceID(ctx)
	if err != nil || !strings.Contains(id, "MFG:Evolis;") || !strings.Contains(id, "SN:"+info.Serial+";") {
		t.Fatalf("GET_DEVICE_ID = %q, %v; want an Evolis id with serial %q", id, err, info.Serial)
	}
	p := evolis.New(conn, evolis.Options{ReplyTimeout: 5 * time.Second, MotionTimeout: 20 * time.Second})
	if err := p.Print(ctx, testCard("tcp-1")); err != nil {
		t.Fatalf("Print over usbip TCP: %v", err)
	}
	c, err := p.Counters(ctx)
	if err != nil || c.Printed != 1 {
		t.Fatalf("Counters = %+v, %v; want 1 printed", c, err)
	}
	files, _ := filepath.Glob("/tmp/cards/*-front.png")
	if len(files) != 1 {
		t.Fatalf("printerd sim wrote %v, want one front image", files)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != card.Width || img.Bounds().Dy() != card.Height {
		t.Fatalf("front image: %v, %v", img.Bounds(), err)
	}
	t.Logf("printed over usbip TCP: %s (%s, serial %s)", filepath.Base(files[0]), id, info.Serial)
}
