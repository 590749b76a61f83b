package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cityid/printerd/card"
)

// Replies a printer gives.
const (
	replyOK       = "OK"
	replyCard     = "CARD"
	replyJam      = "CARD JAM"
	replyRibbon   = "ERROR RIBBON"
	replyCover    = "COVER OPEN"
	replyFeeder   = "FEEDER EMPTY"
	replyCleaning = "NEED CLEANING"
	replyNoCard   = "NO CARD"
	replyMagData  = "ERROR MAG DATA"
	replyMag      = "ERROR MAG"
	voltsHigh     = "5,00 Volts"
	voltsLow      = "0,00 Volts"
)

// exec runs one parsed command: the reply, the mechanical time to wait
// before sending it, and whether the link is to be dropped.
func (d *Device) exec(cmd command) (reply string, delay time.Duration, drop bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := &run{d: d}
	reply = e.do(cmd)
	return reply, e.delay, e.drop
}

// run collects the effects of one command.
type run struct {
	d     *Device
	delay time.Duration
	drop  bool
}

func param(cmd command, i int) string {
	if i < len(cmd.params) {
		return cmd.params[i]
	}
	return ""
}

func (e *run) do(cmd command) string {
	d := e.d
	switch cmd.name {
	// Parameters.
	case "Pem":
		if len(cmd.params) != 1 || (cmd.params[0] != "0" && cmd.params[0] != "1" && cmd.params[0] != "2") {
			return replyParams
		}
		d.pem = cmd.params[0]
		return replyOK
	case "Pr":
		r := card.Ribbon(param(cmd, 0))
		if len(cmd.params) != 1 || r.Valid() != nil {
			return replyParams
		}
		d.jobRibbon = r
		return replyOK
	case "Pmc":
		if len(cmd.params) != 1 || (cmd.params[0] != "h" && cmd.params[0] != "l") {
			return replyParams
		}
		d.coercivity = cmd.params[0]
		return replyOK
	case "Pmt":
		t, terr := strconv.Atoi(param(cmd, 0))
		f, ferr := strconv.Atoi(param(cmd, 1))
		if len(cmd.params) != 2 || terr != nil || ferr != nil || t < 1 || t > 3 || f < 1 || f > 3 {
			return replyParams
		}
		d.magFormat[t-1] = f
		return replyOK

	// Reads.
	case "Rtp":
		return d.opts.Model
	case "Rsn":
		return d.opts.Serial
	case "Rfv":
		return d.opts.Firmware
	case "Rkn":
		return d.opts.HeadKit
	case "Rck":
		var h uint16 = 0x5A3C
		for i := 0; i < len(d.opts.Firmware); i++ {
			h = h<<3 ^ h>>13 ^ uint16(d.opts.Firmware[i])
		}
		return fmt.Sprintf("%04X", h)
	case "Rco":
		if len(cmd.params) != 1 {
			return replyParams
		}
		switch cmd.params[0] {
		case "p", "a":
			return strconv.Itoa(d.printed)
		case "c":
			return strconv.Itoa(d.sinceClean)
		case "n":
			return strconv.Itoa(d.cleanings)
		case "r":
			return strconv.Itoa(d.rejected)
		case "f":
			return strconv.Itoa(d.fed)
		case "l":
			return strconv.Itoa(d.ribbonLeft)
		}
		return replyParams
	case "Rr":
		return strings.ToUpper(string(d.opts.Ribbon)) + ";" + strconv.Itoa(max(d.ribbonLeft, 0))
	case "Rcr":
		if d.ribbonLeft <= 0 {
			return replyRibbon
		}
		return replyOK
	case "Rlr":
		if len(cmd.params) != 1 || cmd.params[0] != "p" {
			return replyParams
		}
		if d.card != nil && d.card.station != "" {
			return d.card.station
		}
		if d.card != nil {
			return replyCard
		}
		return replyOK
	case "Rse":
		if len(cmd.params) != 1 {
			return replyParams
		}
		switch cmd.params[0] {
		case "o":
			if d.coverOpen {
				return voltsLow
			}
			return voltsHigh
		case "f":
			if d.feeder == 0 {
				return voltsLow
			}
			return voltsHigh
		}
		return replyParams
	case "Rmb":
		t, err := strconv.Atoi(param(cmd, 0))
		if len(cmd.params) != 1 || err != nil || t < 1 || t > 3 {
			return replyParams
		}
		return d.magRead[t-1]

	// Magnetic stripe.
	case "Dm":
		t, err := strconv.Atoi(param(cmd, 0))
		if len(cmd.params) < 2 || err != nil || t < 1 || t > 3 {
			return replyParams
		}
		// The data runs to the CR and may itself hold ';'.
		data := cmd.params[1]
		for _, p := range cmd.params[2:] {
			data += ";" + p
		}
		if !validTrack(t, d.magFormat[t-1], data) {
			return replyMagData
		}
		d.magLoaded[t-1] = data
		d.magLoadedOK[t-1] = true
		return replyOK
	case "Smw":
		if r := d.motionBlocked(); r != "" {
			return r
		}
		if d.card == nil {
			if r := e.feed(); r != "" {
				return r
			}
		}
		for i := range d.magLoaded {
			if d.magLoadedOK[i] {
				d.card.mag[i] = d.magLoaded[i]
			}
		}
		d.magLoaded = [3]string{}
		d.magLoadedOK = [3]bool{}
		e.delay += d.scaled(time.Second)
		return replyOK
	case "Smr":
		if d.card == nil {
			return replyNoCard
		}
		d.magRead = d.card.mag
		e.delay += d.scaled(time.Second)
		return replyOK

	// Sequences and card moves.
	case "Ss":
		return e.start()
	case "Sr", "Sv":
		if r := d.motionBlocked(); r != "" {
			return r
		}
		if len(cmd.params) != 0 {
			return replyParams
		}
		if r := e.printPending(); r != "" {
			return r
		}
		if d.card != nil {
			d.leaveStation(d.card)
		}
		d.side = 0
		if cmd.name == "Sv" {
			d.side = 1
			if d.card != nil {
				e.delay += d.scaled(time.Second) // turn the card over
			}
		}
		return replyOK
	case "Db", "Dbc":
		return e.download(cmd)
	case "Se":
		return e.eject()
	case "Si", "Sis", "Sic":
		if r := d.motionBlocked(); r != "" {
			return r
		}
		if d.card == nil {
			if d.feeder == 0 {
				return replyFeeder
			}
			if r := e.feed(); r != "" {
				return r
			}
		}
		if cmd.name != "Si" {
			return e.toStation(cmd.name)
		}
		return replyOK
	case "Ser", "Seb":
		if d.card != nil {
			d.leaveStation(d.card)
			d.rejected++
			d.card = nil
			e.delay += d.delayFor(StageEject)
		}
		d.seq = false
		if d.latched != replyCover || !d.coverOpen {
			d.latched = ""
		}
		return replyOK

	// Maintenance.
	case "Scp":
		if r := d.motionBlocked(); r != "" {
			return r
		}
		if d.card != nil {
			return replyCard
		}
		d.cleanings++
		d.sinceClean = 0
		d.cleanDue = false
		d.cleanAt = d.opts.CleaningEvery // a need-cleaning-after fault is used up
		e.delay += d.scaled(10 * time.Second)
		return replyOK
	case "Srs":
		d.softReset()
		e.delay += d.scaled(2 * time.Second)
		return replyOK
	case "Scs":
		d.latched = ""
		d.coverOpen = false
		return replyOK
	}
	return replyCDE
}

// validTrack checks magnetic data against ISO/IEC 7811 for its format:
// format 1 the 6-bit alphanumeric set (space to '_', no sentinels), formats
// 2 and 3 the 4-bit numeric set (digits and '='), and the track's capacity.
func validTrack(track, format int, data string) bool {
	if len(data) > [3]int{79, 40, 107}[track-1] {
		return false
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		if format == 1 {
			if c < 0x20 || c > 0x5F || c == '%' || c == '?' {
				return false
			}
		} else if (c < '0' || c > '9') && c != '=' {
			return false
		}
	}
	return true
}

// motionBlocked returns the reply that refuses any card movement now, or "".
func (d *Device) motionBlocked() string {
	if d.latched != "" {
		return d.latched
	}
	if d.coverOpen {
		return replyCover
	}
	return ""
}

// start is Ss: every check that refuses a card before it is fed.
func (e *run) start() string {
	d := e.d
	if r := d.motionBlocked(); r != "" {
		return r
	}
	if d.card != nil && d.card.aborted {
		// A card left over from a sequence that never ended goes to the
		// reject tray before the new one.
		d.rejected++
		d.card = nil
		e.delay += d.delayFor(StageEject)
	}
	if d.cleanDue {
		return replyCleaning
	}
	if d.ribbonLeft <= 0 {
		return replyRibbon
	}
	if d.card == nil && d.feeder == 0 {
		return replyFeeder
	}
	d.seq = true
	d.side = 0
	return replyOK
}

// feed takes a card from the feeder: the feed stage.
func (e *run) feed() string {
	d := e.d
	if d.feeder == 0 {
		return replyFeeder
	}
	// A cover opened at the feed stage stops the printer before the card
	// moves.
	if d.fireAt(d.fed+1, faultCover, StageFeed) {
		d.coverOpen = true
		return replyCover
	}
	d.fed++
	label := d.nextLabel
	d.nextLabel = ""
	if label == "" {
		label = fmt.Sprintf("card-%04d", d.fed)
	}
	d.feeder--
	d.card = &cardState{no: d.fed, label: label}
	d.card.planes[0] = map[byte]panelData{}
	d.card.planes[1] = map[byte]panelData{}
	return e.stage(StageFeed)
}

// fire reports whether a trigger of kind is armed for the current card
// (or, before the feed, the card about to be fed) at stage, and disarms it.
func (d *Device) fire(kind faultKind, stage Stage) bool {
	no := d.fed + 1
	if d.card != nil {
		no = d.card.no
	}
	return d.fireAt(no, kind, stage)
}

// fireAt is fire for the card with feed ordinal no.
func (d *Device) fireAt(no int, kind faultKind, stage Stage) bool {
	for i, t := range d.triggers {
		if t.kind == kind && t.stage == stage && t.card == no {
			d.triggers = append(d.triggers[:i], d.triggers[i+1:]...)
			return true
		}
	}
	return false
}

// stage passes the card in the printer through a stage: its mechanical
// time and the faults armed there. It returns the error reply, or "".
func (e *run) stage(s Stage) string {
	d := e.d
	e.delay += d.delayFor(s)
	switch {
	case d.fire(faultDrop, s):
		e.drop = true
		d.abortSequence()
		return ""
	case d.fire(faultJam, s):
		d.latched = replyJam
		d.seq = false
		return replyJam
	case d.fire(faultCover, s):
		d.coverOpen = true
		d.latched = replyCover
		d.seq = false
		return replyCover
	case d.fire(faultRibbon, s):
		d.ribbonLeft = 0
		d.latched = replyRibbon
		d.seq = false
		return replyRibbon
	}
	return ""
}

// printPending prints the panel downloaded last (pipelined printing).
func (e *run) printPending() string {
	c := e.d.card
	if c == nil || c.pending == 0 {
		return ""
	}
	p := c.pending
	c.pending = 0
	if r := e.stage(Stage(string(p))); r != "" || e.drop {
		return r
	}
	return ""
}

// download is Db and Dbc: feed the card if needed, print the panel
// downloaded before, keep this one.
func (e *run) download(cmd command) string {
	d := e.d
	if r := d.motionBlocked(); r != "" {
		return r
	}
	if !d.seq || d.card != nil && d.card.aborted {
		if r := e.start(); r != replyOK {
			return r
		}
	}
	if d.card == nil {
		if r := e.feed(); r != "" || e.drop {
			return r
		}
	}
	if r := e.printPending(); r != "" || e.drop {
		return r
	}
	c := d.card
	if !c.sideStarted[d.side] {
		if d.ribbonLeft <= 0 {
			d.latched = replyRibbon
			d.seq = false
			return replyRibbon
		}
		d.ribbonLeft--
		c.sideStarted[d.side] = true
	}
	c.planes[d.side][cmd.panel] = cmd.payload
	c.pending = cmd.panel
	c.pendingSide = d.side
	return replyOK
}

// eject is Se: print the last panel, eject the card, keep its images.
func (e *run) eject() string {
	d := e.d
	if r := d.motionBlocked(); r != "" {
		return r
	}
	if d.card == nil {
		d.seq = false
		return replyOK
	}
	if r := e.printPending(); r != "" || e.drop {
		return r
	}
	if r := e.stage(StageEject); r != "" || e.drop {
		return r
	}
	c := d.card
	d.leaveStation(c)
	d.card = nil
	d.seq = false
	d.side = 0
	d.printed++
	d.sinceClean++
	if d.cleanAt > 0 && d.sinceClean >= d.cleanAt {
		d.cleanDue = true
	}
	k := &printedCard{label: c.label, mag: c.mag, chip: c.chipImage, planes: c.planes, rotation: d.opts.Rotation}
	if d.opts.Out != "" {
		// The faces are composited for the files and then let go: Cards
		// composites them again if asked.
		p := k.composite(false)
		files, err := writeImages(d.opts.Out, p)
		if err != nil {
			d.opts.Logger.Warn("sim: writing card images", "device", d.opts.Name, "card", p.Label, "err", err)
		}
		if k.chip != nil && err == nil {
			var f string
			if f, err = writeChip(d.opts.Out, p.Label, k.chip); err != nil {
				d.opts.Logger.Warn("sim: writing the chip image", "device", d.opts.Name, "card", p.Label, "err", err)
			} else {
				files = append(files, f)
			}
		}
		k.files = files
	}
	d.keep(k)
	return replyOK
}
