package sim

import (
	"fmt"
	"image"
	"sync"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/chip/t4t"
	"github.com/cityid/printerd/drivers/chip/vchip"
)

// Device is a simulated Evolis card printer. Its methods are safe for
// concurrent use; Serve runs the printer side of one connection at a time.
type Device struct {
	opts Options

	mu          sync.Mutex
	feeder      int
	ribbonLeft  int
	jobRibbon   card.Ribbon
	pem         string
	coverOpen   bool
	card        *cardState // the card in the printer, or nil
	latched     string     // error answered to motion commands until cleared
	seq         bool       // inside Ss ... Se
	side        int        // 0 front (Sr), 1 back (Sv)
	fed         int        // cards fed since start
	printed     int
	sinceClean  int
	cleanings   int
	rejected    int
	cleanAt     int // cards since cleaning at which cleaning is due; 0 never
	cleanDue    bool
	triggers    []armed
	silent      bool
	silentIn    int // commands before going silent; -1 off
	garbageIn   int // commands before a garbage reply; -1 off
	magFormat   [3]int
	magLoaded   [3]string
	magLoadedOK [3]bool
	magRead     [3]string
	coercivity  string
	nextLabel   string
	cards       []*printedCard // the last Options.KeepCards cards, oldest first
	chipLeft    time.Time      // when the last chip left the encoder station
}

// cardState is a card inside the printer.
type cardState struct {
	no          int // ordinal of the feed, from 1
	label       string
	planes      [2]map[byte]panelData // panels as received, per side
	pending     byte                  // panel downloaded, not yet printed
	pendingSide int
	sideStarted [2]bool
	mag         [3]string
	aborted     bool        // its sequence ended without an eject
	station     string      // Rlr;p's answer at an encoder station, or ""
	chip        *vchip.Chip // the chip presented to pcscd while at the station
	chipImage   *t4t.Image  // what the chip held when it left the station
}

// faultKind names what an armed trigger does.
type faultKind int

const (
	faultJam faultKind = iota
	faultCover
	faultRibbon
	faultDrop
)

// armed is a trigger waiting for its card (an absolute feed ordinal).
type armed struct {
	kind  faultKind
	stage Stage
	card  int
}

// Printed is a card the simulator printed and ejected.
type Printed struct {
	// Label is the label set on the link (a job id) or "card-NNNN".
	Label string
	// Front and Back are the composited card faces in design orientation
	// (1016 x 648 with the default rotation): white card, Y, M and C
	// subtractive, K black; the overlay is not visible. Back is nil for a
	// one-sided card.
	Front, Back image.Image
	// FrontPanels and BackPanels are the panels received, turned back to
	// design orientation, as 0..255 densities (Y, M and C rescaled from
	// their levels). A panel not received is nil. BackPanels is nil for a
	// one-sided card.
	FrontPanels card.Side
	BackPanels  *card.Side
	// Mag holds the magnetic tracks written on the card (Smw).
	Mag [3]string
	// Chip is the card's chip as it left the encoder station (with
	// Options.VPCD set), nil for a card that never reached one.
	Chip *t4t.Image
	// Files are the image files written to Options.Out.
	Files []string
}

// New makes a simulated printer.
func New(opts Options) *Device {
	d := &Device{opts: opts.withDefaults(), silentIn: -1, garbageIn: -1, pem: "0"}
	d.feeder = d.opts.FeederCards
	d.ribbonLeft = d.opts.RibbonCards
	d.cleanAt = d.opts.CleaningEvery
	d.magFormat = [3]int{1, 2, 3}
	d.coercivity = "h"
	d.applyFaults(d.opts.Faults)
	return d
}

// Options returns the device's options with defaults filled in.
func (d *Device) Options() Options { return d.opts }

// SetFault injects the faults of a spec (ParseFaults syntax) at run time.
// Trigger card numbers count from now.
func (d *Device) SetFault(spec string) error {
	f, err := ParseFaults(spec)
	if err != nil {
		return err
	}
	d.SetFaults(f)
	return nil
}

// SetFaults injects faults at run time.
func (d *Device) SetFaults(f Faults) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.applyFaults(f)
}

// ClearFaults disarms every pending trigger, silence and garbage fault.
// Consumables and the state faults left behind (a jammed card, an open
// cover) stay as they are.
func (d *Device) ClearFaults() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.triggers = nil
	d.silentIn, d.garbageIn, d.silent = -1, -1, false
}

func (d *Device) applyFaults(f Faults) {
	base := d.fed
	if d.card != nil {
		base = d.card.no - 1 // "the next card" may be the one inside
	}
	arm := func(k faultKind, ts []Trigger) {
		for _, t := range ts {
			d.triggers = append(d.triggers, armed{kind: k, stage: t.Stage, card: base + max(t.Card, 1)})
		}
	}
	arm(faultJam, f.Jam)
	arm(faultCover, f.CoverOpen)
	arm(faultRibbon, f.RibbonOut)
	arm(faultDrop, f.Drop)
	if f.RibbonOutAfter != nil {
		d.ribbonLeft = *f.RibbonOutAfter
	}
	if f.CoverOpenNow {
		d.coverOpen = true
	}
	if f.Feeder != nil {
		d.feeder = *f.Feeder
	}
	if f.SilentAfter != nil {
		d.silentIn = *f.SilentAfter
	}
	if f.Garbage != nil {
		d.garbageIn = *f.Garbage
	}
	if f.NeedCleaningAfter != nil {
		d.cleanAt = d.sinceClean + *f.NeedCleaningAfter
		d.cleanDue = *f.NeedCleaningAfter == 0
	}
}

// SetLabel names the next card fed: its files are <label>-front.png and
// <label>-back.png. Only letters, digits, '.', '-' and '_' are kept.
func (d *Device) SetLabel(label string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextLabel = cleanLabel(label)
}

func cleanLabel(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' && i > 0) {
			b[i] = '_'
		}
	}
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}

// SetCover opens or closes the cover, as an operator does.
func (d *Device) SetCover(open bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.coverOpen = open
	if !open && d.latched == replyCover {
		d.latched = ""
	}
}

// SetFeeder puts n blank cards in the feeder.
func (d *Device) SetFeeder(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.feeder = max(n, 0)
}

// SetRibbon loads a ribbon good for n card sides.
func (d *Device) SetRibbon(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ribbonLeft = max(n, 0)
	if d.latched == replyRibbon {
		d.latched = ""
	}
}

// Cards returns the last cards printed and ejected (at most
// Options.KeepCards of them), oldest first. Their faces and panels are
// composited on the first call that returns them (outside the device's
// lock) and kept until the card is dropped. Counters counts every card.
func (d *Device) Cards() []Printed {
	d.mu.Lock()
	kept := append([]*printedCard(nil), d.cards...)
	d.mu.Unlock()
	out := make([]Printed, len(kept))
	for i, k := range kept {
		out[i] = k.get()
	}
	return out
}

// Counters returns the printer's counters.
func (d *Device) Counters() drivers.Counters {
	d.mu.Lock()
	defer d.mu.Unlock()
	return drivers.Counters{Printed: d.printed, SinceCleaning: d.sinceClean, Cleanings: d.cleanings, Rejected: d.rejected}
}

// State is a snapshot of the printer's physical state, for tests.
type State struct {
	Feeder     int    // blank cards in the feeder
	RibbonLeft int    // card sides the ribbon can still print
	CoverOpen  bool   // cover open
	CardInside bool   // a card is in the printer (Rlr;p answers CARD)
	Error      string // the latched error answered to motion commands, or ""
	Silent     bool   // not answering (silence fault)
	Fed        int    // cards fed since start
}

// State returns a snapshot of the printer's physical state.
func (d *Device) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return State{Feeder: d.feeder, RibbonLeft: d.ribbonLeft, CoverOpen: d.coverOpen, CardInside: d.card != nil,
		Error: d.latched, Silent: d.silent, Fed: d.fed}
}

// DeviceID returns the IEEE 1284 device id a USB printer-class device
// answers to GET_DEVICE_ID (without the two length bytes).
func (d *Device) DeviceID() string {
	model := d.opts.Model
	if len(model) > 7 && model[:7] == "Evolis " {
		model = model[7:]
	}
	return fmt.Sprintf("MFG:Evolis;MDL:%s;CMD:EVOLIS;CLS:PRINTER;DES:%s;SN:%s;", model, d.opts.Model, d.opts.Serial)
}

// USB printer-class GET_PORT_STATUS bits.
const (
	PortNotError    = 0x08
	PortSelected    = 0x10
	PortPaperEmpty  = 0x20
	portStatusClean = PortNotError | PortSelected
)

// PortStatus returns the byte a USB printer-class device answers to
// GET_PORT_STATUS: 0x08 when no error is latched and the cover is closed,
// 0x10 while the printer answers (selected), 0x20 when the feeder is empty.
func (d *Device) PortStatus() byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	var s byte
	if d.latched == "" && !d.coverOpen {
		s |= PortNotError
	}
	if !d.silent {
		s |= PortSelected
	}
	if d.feeder == 0 {
		s |= PortPaperEmpty
	}
	return s
}

// SoftReset does what Srs (or a USB SOFT_RESET) does: the card in the
// printer goes to the reject tray, errors are cleared, the cover is closed
// (the operator closed it), and a silent printer answers again.
func (d *Device) SoftReset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.softReset()
}

func (d *Device) softReset() {
	if d.card != nil {
		d.leaveStation(d.card)
		d.rejected++
		d.card = nil
	}
	d.latched = ""
	d.seq = false
	d.side = 0
	d.coverOpen = false
	d.silent = false
	d.magLoaded = [3]string{}
	d.magLoadedOK = [3]bool{}
}

// abortSequence ends a sequence whose connection went away: the card stays
// in the printer, marked as left over.
func (d *Device) abortSequence() {
	d.seq = false
	if d.card != nil {
		d.card.aborted = true
		d.card.pending = 0
	}
}

// delayFor is the mechanical time of a stage at the device's speed.
func (d *Device) delayFor(s Stage) time.Duration {
	if d.opts.Speed <= 0 {
		return 0
	}
	var base time.Duration
	switch s {
	case StageFeed, StageEject:
		base = 1500 * time.Millisecond
	case StageY, StageM, StageC:
		base = 3 * time.Second
	case StageK, StageO:
		base = 2 * time.Second
	}
	return time.Duration(float64(base) * d.opts.Speed)
}

func (d *Device) scaled(t time.Duration) time.Duration {
	if d.opts.Speed <= 0 {
		return 0
	}
	return time.Duration(float64(t) * d.opts.Speed)
}
