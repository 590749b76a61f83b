package diag

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"strings"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
)

// Verbs are the diagnostics verbs, in the order the CLI lists them.
var Verbs = []string{"status", "info", "counters", "clean", "test-card", "reset", "pause", "resume", "raw"}

// ErrDaemonOnly is Run's answer to pause and resume.
var ErrDaemonOnly = errors.New("diag: pause and resume act on the daemon's queue: use --nats with a running daemon")

// ErrNoRaw is returned by raw on a printer whose driver cannot send raw
// commands.
var ErrNoRaw = errors.New("diag: this printer's driver does not take raw commands")

// Done is the result of a verb that returns no data.
type Done struct {
	Verb string `json:"verb"`
	OK   bool   `json:"ok"`
}

// TestCardResult is the result of test-card.
type TestCardResult struct {
	Printed bool        `json:"printed"`
	Ribbon  card.Ribbon `json:"ribbon"`
}

// RawResult is the result of raw: the command and the printer's reply.
type RawResult struct {
	Command string `json:"command"`
	Reply   string `json:"reply"`
}

// Run runs one diagnostics verb on p. arg is the ribbon for test-card
// (default: the ribbon the printer reports, else ymcko) and the command for
// raw (e.g. "Rco;p"); other verbs take none. The result marshals to JSON.
func Run(ctx context.Context, p drivers.Printer, verb, arg string) (any, error) {
	switch verb {
	case "status":
		return p.Status(ctx)
	case "info":
		return p.Info(ctx)
	case "counters":
		return p.Counters(ctx)
	case "clean":
		if err := p.Clean(ctx); err != nil {
			return nil, err
		}
		return Done{Verb: verb, OK: true}, nil
	case "reset":
		if err := p.Reset(ctx); err != nil {
			return nil, err
		}
		return Done{Verb: verb, OK: true}, nil
	case "test-card":
		r := card.Ribbon(strings.ToLower(arg))
		if r == "" {
			if info, err := p.Info(ctx); err == nil {
				r = info.Ribbon
			}
		}
		if r == "" {
			r = card.YMCKO
		}
		if err := r.Valid(); err != nil {
			return nil, fmt.Errorf("diag: test-card: %w", err)
		}
		if err := p.Print(ctx, TestCard(r)); err != nil {
			return nil, err
		}
		return TestCardResult{Printed: true, Ribbon: r}, nil
	case "raw":
		rc, ok := rawCommander(p)
		if !ok {
			return nil, ErrNoRaw
		}
		if arg == "" {
			return nil, errors.New("diag: raw needs a command, e.g. Rco;p")
		}
		reply, err := rc.Raw(ctx, arg)
		if err != nil {
			return nil, err
		}
		return RawResult{Command: arg, Reply: reply}, nil
	case "pause", "resume":
		return nil, ErrDaemonOnly
	}
	return nil, fmt.Errorf("diag: unknown verb %q: want one of %s", verb, strings.Join(Verbs, ", "))
}

// ReadOnlyRaw reports whether a raw command only reads: an Evolis read
// command, 'R' and 1-3 lower-case letters, with optional ';'-separated
// alphanumeric arguments (e.g. "Rco;p", "Rlr;p", "Rsn"). Anything else
// (printing, moving a card, changing a setting) needs the daemon's
// allow-raw option.
func ReadOnlyRaw(cmd string) bool {
	name, args, _ := strings.Cut(cmd, ";")
	if len(name) < 2 || len(name) > 4 || name[0] != 'R' {
		return false
	}
	for _, r := range name[1:] {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	if len(args) > 32 {
		return false
	}
	for _, r := range args {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == ';') {
			return false
		}
	}
	return true
}

// RawName is the part of a raw command an audit record keeps: its name
// (up to the first ';', at most 8 characters of letters and digits), never
// its arguments, which could carry text meant for a card.
func RawName(cmd string) string {
	name, _, _ := strings.Cut(cmd, ";")
	var b strings.Builder
	for _, r := range name {
		if b.Len() >= 8 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// rawCommander finds the RawCommander behind p: p itself, the driver
// inside a *drivers.Opened, or behind a wrapper with Unwrap() drivers.Printer.
func rawCommander(p drivers.Printer) (drivers.RawCommander, bool) {
	for i := 0; i < 8 && p != nil; i++ {
		if rc, ok := p.(drivers.RawCommander); ok {
			return rc, true
		}
		switch w := p.(type) {
		case *drivers.Opened:
			p = w.Printer
		case interface{ Unwrap() drivers.Printer }:
			p = w.Unwrap()
		default:
			return nil, false
		}
	}
	return nil, false
}

// TestCardLabel labels the test card in simulator output.
const TestCardLabel = "test-card"

// TestCard returns a test pattern for ribbon r: colour bars (white, yellow,
// cyan, green, magenta, red, blue, black) and a grey ramp on Y, M and C; a
// border and a 50-dot grid on K, without text; O full. Panels the ribbon
// lacks are nil.
func TestCard(r card.Ribbon) card.Card {
	c := card.Card{Label: TestCardLabel, Ribbon: r}
	front := r.SidePanels(false)
	if front.Colour {
		c.Front.Y, c.Front.M, c.Front.C = card.NewPlane(), card.NewPlane(), card.NewPlane()
		// Bars as Y, M, C amounts: white, yellow, cyan, green, magenta, red, blue, black.
		bars := [8][3]uint8{{0, 0, 0}, {255, 0, 0}, {0, 0, 255}, {255, 0, 255}, {0, 255, 0}, {255, 255, 0}, {0, 255, 255}, {255, 255, 255}}
		barW := card.Width / len(bars)
		for y := 0; y < card.Height*3/5; y++ {
			for x := 0; x < card.Width; x++ {
				b := bars[min(x/barW, len(bars)-1)]
				c.Front.Y.SetGray(x, y, color.Gray{Y: b[0]})
				c.Front.M.SetGray(x, y, color.Gray{Y: b[1]})
				c.Front.C.SetGray(x, y, color.Gray{Y: b[2]})
			}
		}
		for y := card.Height * 3 / 5; y < card.Height; y++ {
			for x := 0; x < card.Width; x++ {
				v := color.Gray{Y: uint8(x * 255 / (card.Width - 1))}
				c.Front.Y.SetGray(x, y, v)
				c.Front.M.SetGray(x, y, v)
				c.Front.C.SetGray(x, y, v)
			}
		}
	}
	c.Front.K = card.NewPlane()
	fill(c.Front.K, func(x, y int) bool {
		border := x < 6 || y < 6 || x >= card.Width-6 || y >= card.Height-6
		grid := x%50 == 0 || y%50 == 0
		return border || grid
	})
	if front.Overlay {
		c.Front.O = card.NewPlane()
		fill(c.Front.O, func(x, y int) bool { return true })
	}
	return c
}

func fill(p *image.Gray, on func(x, y int) bool) {
	for y := 0; y < card.Height; y++ {
		for x := 0; x < card.Width; x++ {
			if on(x, y) {
				p.Pix[y*p.Stride+x] = 255
			}
		}
	}
}
