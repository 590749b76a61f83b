package magicard_test

import (
	"context"
	"errors"
	"image"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/magicard"
	"github.com/cityid/printerd/drivers/serial"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/drivers/tcp"
	"github.com/cityid/printerd/internal/sample"
)

// testOpts are driver options for tests: short waits, still generous on a
// loaded 2-core machine.
var testOpts = magicard.Options{ReplyTimeout: 500 * time.Millisecond, PrintTimeout: 3 * time.Second, PollInterval: 5 * time.Millisecond}

// serveTCP serves dev on a loopback TCP listener, one connection at a
// time (a new one after a drop), until the test ends.
func serveTCP(t *testing.T, dev *sim.Magicard) string {
	t.Helper()
	srv, err := dev.ListenTCP("127.0.0.1:0", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr()
}

// openTCP opens the driver's transport to a TCP simulator.
func openTCP(t *testing.T, addr string) drivers.LinkCloser {
	t.Helper()
	u, _ := url.Parse("tcp://" + addr)
	l, err := tcp.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// servePty serves dev on a pseudo-terminal's master and returns the
// driver's serial port on its slave.
func servePty(t *testing.T, dev *sim.Magicard) drivers.LinkCloser {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("pty.Open: %v (the serial path test needs /dev/ptmx and devpts)", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	port, err := serial.OpenPath(ctx, slave.Name(), 115200)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			err := dev.Serve(ctx, master)
			if !errors.Is(err, sim.ErrDropped) {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		port.Close()
		master.Close()
		slave.Close()
		wg.Wait()
		dev.Close()
	})
	return port
}

// municipal is the built-in card as layout renders it.
func municipal(t testing.TB, label string) card.Card {
	t.Helper()
	c, err := sample.ReadCard(filepath.Join("..", "..", sample.MunicipalCard))
	if err != nil {
		t.Fatal(err)
	}
	c.Label = label
	return c
}

// checkSide compares a side the simulator decoded with the panels sent:
// on the printed rows (3..644), Y, M and C at 6 bits (v>>2, rescaled),
// K and O exactly; the unprinted rows blank.
func checkSide(t *testing.T, name string, got, want card.Side) {
	t.Helper()
	planes := []struct {
		n      string
		g, w   *image.Gray
		colour bool
	}{{"Y", got.Y, want.Y, true}, {"M", got.M, want.M, true}, {"C", got.C, want.C, true}, {"K", got.K, want.K, false}, {"O", got.O, want.O, false}}
	for _, p := range planes {
		if (p.g == nil) != (p.w == nil) {
			t.Errorf("%s %s plane: decoded %v, sent %v", name, p.n, p.g != nil, p.w != nil)
			continue
		}
		if p.g == nil {
			continue
		}
		bad, first := 0, image.Point{-1, -1}
		for y := 0; y < card.Height; y++ {
			for x := 0; x < card.Width; x++ {
				w := p.w.Pix[y*p.w.Stride+x]
				var exp uint8
				switch {
				case y < magicard.CropTop || y >= magicard.CropTop+magicard.ImageDots:
					exp = 0
				case p.colour:
					exp = uint8((int(w>>2)*255 + 31) / 63)
				case w >= 128:
					exp = 255
				}
				if g := p.g.Pix[y*p.g.Stride+x]; g != exp {
					if bad == 0 {
						first = image.Pt(x, y)
					}
					bad++
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s %s plane: %d dots differ from the panel sent, the first at %v", name, p.n, bad, first)
		}
	}
}
