package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cityid/printerd/drivers/chip/t4t"
	"github.com/cityid/printerd/drivers/chip/vchip"
)

// ChipFault is a chip fault armed for one card (a feed ordinal, from 1).
type ChipFault struct {
	Fault vchip.Fault // vchip.Missing, vchip.RefuseWrites or vchip.RemoveMidWrite
	Card  int
}

var chipFaultNames = map[string]vchip.Fault{
	"missing": vchip.Missing, "refuse": vchip.RefuseWrites, "remove": vchip.RemoveMidWrite,
}

// String writes the fault as ParseFaults reads it: chip=KIND@N.
func (f ChipFault) String() string {
	for n, k := range chipFaultNames {
		if k == f.Fault {
			return "chip=" + n + "@" + strconv.Itoa(f.Card)
		}
	}
	return "chip=?"
}

// parseChipFault reads KIND[@N] of chip=KIND[@N].
func parseChipFault(val string) (ChipFault, error) {
	kind, at, hasAt := strings.Cut(val, "@")
	f := ChipFault{Card: 1}
	k, ok := chipFaultNames[kind]
	if !ok {
		return f, fmt.Errorf("sim: fault \"chip\": want chip=missing, refuse or remove, optionally @N (the card)")
	}
	f.Fault = k
	if hasAt {
		n, err := strconv.Atoi(at)
		if err != nil || n < 1 {
			return f, fmt.Errorf("sim: fault \"chip\": card number after @ must be a whole number >= 1")
		}
		f.Card = n
	}
	return f, nil
}

// Station names as Rlr;p answers them for a card at an encoder station.
const (
	replySmartCard       = "SMART CARD"
	replyContactlessCard = "CONTACTLESS CARD"
)

// toStation is Sis (contacts) or Sic (contactless): the card in the
// printer (fed if needed) moves to the encoder station, where a virtual
// chip (vchip) is presented to pcscd through vpcd at Options.VPCD. Without
// VPCD the card has no chip anyone can reach. The chip stays in the reader
// until the card moves on to be printed, is ejected or rejected.
func (e *run) toStation(cmd string) string {
	d := e.d
	c := d.card
	c.station = replyContactlessCard
	if cmd == "Sis" {
		c.station = replySmartCard
	}
	e.delay += d.scaled(500 * time.Millisecond)
	if d.opts.VPCD == "" || c.chip != nil {
		return replyOK
	}
	opts := vchip.Options{}
	for i, f := range d.opts.Faults.Chip {
		if f.Card == c.no {
			opts.Fault = f.Fault
			if f.Fault == vchip.RemoveMidWrite {
				opts.RemoveAfter = 1
			}
			d.opts.Faults.Chip = append(d.opts.Faults.Chip[:i:i], d.opts.Faults.Chip[i+1:]...)
			break
		}
	}
	// A card reaches the station no sooner than chipGap after the last
	// chip left it (a real card takes longer to travel there): pcscd polls
	// its readers, and must see the old chip gone before the new one comes,
	// or it takes the new chip for the old one, which is no longer there.
	if wait := chipGap - time.Since(d.chipLeft); !d.chipLeft.IsZero() && wait > 0 {
		time.Sleep(wait)
	}
	ch, err := vchip.New(opts)
	if err != nil {
		d.opts.Logger.Warn("sim: chip", "device", d.opts.Name, "err", err)
		return replyOK
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ch.Insert(ctx, d.opts.VPCD); err != nil {
		// the station's reader is not there: the host sees no chip
		d.opts.Logger.Warn("sim: chip not presented", "device", d.opts.Name, "err", err)
		return replyOK
	}
	c.chip = ch
	return replyOK
}

// chipGap is the least time between a chip leaving the station and the
// next one arriving: over twice pcscd's 400 ms reader poll.
const chipGap = time.Second

// leaveStation takes the card's chip out of the reader (the card moves on
// to be printed, or leaves the printer) and keeps its image with the card.
func (d *Device) leaveStation(c *cardState) {
	c.station = ""
	if c.chip == nil {
		return
	}
	_ = c.chip.Remove()
	d.chipLeft = time.Now()
	im := c.chip.Image()
	c.chipImage = &im
	c.chip = nil
}

// writeChip writes a printed card's chip image as <label>-chip.json.
func writeChip(dir, label string, im *t4t.Image) (string, error) {
	b, err := im.Marshal()
	if err != nil {
		return "", fmt.Errorf("sim: chip image: %w", err)
	}
	path := filepath.Join(dir, label+"-chip.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", fmt.Errorf("sim: chip image: %w", err)
	}
	return path, nil
}
