package sim

import (
	"fmt"
	"sync"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
)

// Magicard line layouts the simulator speaks (the sim keeps its own names:
// it shares no code with drivers/magicard).
const (
	MagicardKEE = "kee" // Rio 2e, Tango 2e: 84-byte sub-rows, MSB first
	MagicardKGE = "kge" // Enduro, Rio Pro, Pronto: 96-byte sub-rows, interleaved
)

// MagicardOptions configure a simulated Magicard printer of the text
// protocol. The embedded Options are the Evolis simulator's: Name, Model,
// Serial, Firmware, Ribbon, RibbonCards (film prints), FeederCards,
// CleaningEvery, Speed, Out, KeepCards, ReadTimeout, Faults and Logger
// mean the same; Rotation and HeadKit are not used.
type MagicardOptions struct {
	Options
	// Layout is the line layout: MagicardKEE or MagicardKGE. Empty means
	// KEE.
	Layout string
	// HeadPosition is the head-position setting P (35..65) that places
	// the image on the head line; REQ,INF field 16 reports it. Zero means
	// 50.
	HeadPosition int
	// Flip turns the simulator's reading of every page 180 degrees, as a
	// printer whose default is the other way round.
	Flip bool
}

// CardPosition is where the last card fed is.
type CardPosition string

// Card positions.
const (
	CardNone     CardPosition = "none"       // no card fed yet
	CardInside   CardPosition = "in-printer" // in the printer (printing, or stuck after an error)
	CardEjected  CardPosition = "ejected"    // in the output hopper
	CardRejected CardPosition = "rejected"   // in the reject tray
)

// Magicard is a simulated Magicard printer of the text protocol
// (../shared/magicard-protocol.md), KEE or KGE line layout. It shares no
// code with drivers/magicard: its reader, its dot tables (built from the
// byte side) and its orientation are its own, so that the driver's tests
// check the driver against the notes, not against itself. Its methods are
// safe for concurrent use; Serve runs the printer side of one connection
// at a time.
//
// What it reads: any number of 0x05, 0x01, an optional ',', a header of
// comma-separated tokens up to 0x1C. A header starting NOC is a job page:
// its planes follow by the SZ sizes (which must be the layout's plane
// sizes, in IMF order), each with 0x1C <letter> ':', then 0x03. A job
// header ending in ',' before 0x1C, a printhead token of the other layout,
// missing or mis-sized planes, track data without sentinels or outside
// the track's set, or a back page (PAG2) without its front (PAG1 with
// DPXON) is refused with error 1028, and no card moves. Other headers are
// commands, followed by 0x03: REQ,STA,<key> answers 0x01
// "STA,<key>,<value>," 0x03 (TCQ, TCP, CCQ, TCN, TPQ, DFR, CCP, MSR, VRS,
// MDL, FPP, VID, PID; others an empty value); REQ,INF answers 0x01 "STA$$"
// and V's 35 fields, 0x03 (model, head type, serial, firmware, counters,
// head position, major and minor error, film shots and shots used, film
// type); QPR<n> and SNR<n> answer one line, then END; RST, EJT, CLN (bare
// or after REQ, leading comma or not) and TST answer nothing.
//
// A job is printed in the background, as on the printer, while the link
// keeps answering: it is refused before a card moves when an error is
// set, the cover is open (1038), cleaning is due (2048), the feeder is
// empty (1025) or the film is used up (1049); otherwise a card is fed
// (position in-printer), each page prints its panels (one film set a
// page) and the card is ejected (position ejected) and counted. REQ,INF
// reports an open cover and a cleaning due at once, an empty feeder only
// once a job found it. A fault at a stage leaves the card inside with the
// error set: jam 1026, ribbon-out 1049, cover-open 1038; at feed a cover
// opens before the card moves. A drop fault cuts the connection but the
// job goes on printing (the job is all in the printer). RST puts a card
// left inside in the reject tray (position rejected) and clears errors;
// EJT pushes it out to the output hopper (position ejected, listed in
// MagicardState.Ejected, not counted) and clears a jam or film error; CLN
// cleans. The silent fault ignores everything but RST until a new
// connection; the garbage fault answers one reply with a malformed frame.
type Magicard struct {
	opts MagicardOptions

	mu         sync.Mutex
	feeder     int
	ribbonLeft int // card sides the film can still print
	filmShots  int // prints the film had when loaded
	coverOpen  bool
	major      int // error reported in REQ,INF field 19; 0 none
	minor      int
	position   CardPosition
	inside     *mcCard
	rejectTray []string // labels of rejected cards, oldest first
	ejected    []string // labels of cards ejected by EJT after an error
	fed        int
	printed    int
	panels     int
	sinceClean int
	cleanings  int
	rejected   int
	cleanAt    int
	cleanDue   bool
	triggers   []armed
	silent     bool
	silentIn   int
	garbageIn  int
	nextLabel  string
	cards      []*mcKept
	front      *mcPage // page 1 of a duplex job, waiting for page 2
	queue      []*mcJob
	working    bool
	cut        func() // drops the current connection
	dropped    bool
	wg         sync.WaitGroup
	stop       chan struct{}
	stopOnce   sync.Once
}

// mcCard is the card in the printer.
type mcCard struct {
	no    int
	label string
}

// NewMagicard makes a simulated Magicard printer.
func NewMagicard(opts MagicardOptions) *Magicard {
	if opts.Layout == "" {
		opts.Layout = MagicardKEE
	}
	if opts.Model == "" {
		opts.Model = "Tango 2E"
		if opts.Layout == MagicardKGE {
			opts.Model = "Enduro 3E"
		}
	}
	if opts.Firmware == "" {
		opts.Firmware = "F1.0-sim"
	}
	if opts.HeadPosition == 0 {
		opts.HeadPosition = 50
	}
	opts.Options = opts.Options.withDefaults()
	d := &Magicard{opts: opts, silentIn: -1, garbageIn: -1, position: CardNone, stop: make(chan struct{})}
	d.feeder = d.opts.FeederCards
	d.ribbonLeft = d.opts.RibbonCards
	d.filmShots = d.ribbonLeft
	d.cleanAt = d.opts.CleaningEvery
	d.applyFaults(d.opts.Faults)
	return d
}

// Options returns the device's options with defaults filled in.
func (d *Magicard) Options() Options { return d.opts.Options }

// MagicardOptions returns all of the device's options.
func (d *Magicard) MagicardOptions() MagicardOptions { return d.opts }

// Close cuts the mechanical time of the card being printed, and of every
// later one, short, and waits for the printer to be idle. The device
// stays usable, without delays. Close is safe to call twice.
func (d *Magicard) Close() error {
	d.stopOnce.Do(func() { close(d.stop) })
	d.wg.Wait()
	return nil
}

// Wait waits until every job received has been printed or refused.
func (d *Magicard) Wait() { d.wg.Wait() }

// SetFault injects the faults of a spec (ParseFaults syntax) at run time.
func (d *Magicard) SetFault(spec string) error {
	f, err := ParseFaults(spec)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.applyFaults(f)
	return nil
}

// ClearFaults disarms every pending trigger, silence and garbage fault.
func (d *Magicard) ClearFaults() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.triggers = nil
	d.silentIn, d.garbageIn, d.silent = -1, -1, false
}

func (d *Magicard) applyFaults(f Faults) {
	base := d.fed
	if d.inside != nil {
		base = d.inside.no - 1
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

func (d *Magicard) fire(no int, kind faultKind, stage Stage) bool {
	for i, t := range d.triggers {
		if t.kind == kind && t.stage == stage && t.card == no {
			d.triggers = append(d.triggers[:i], d.triggers[i+1:]...)
			return true
		}
	}
	return false
}

// SetLabel names the next card fed (its image files).
func (d *Magicard) SetLabel(label string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextLabel = cleanLabel(label)
}

// SetCover opens or closes the cover, as an operator does. Closing it
// clears a cover error.
func (d *Magicard) SetCover(open bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.coverOpen = open
	if !open && d.major == mcErrCover {
		d.major = 0
	}
}

// SetFeeder puts n blank cards in the feeder.
func (d *Magicard) SetFeeder(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.feeder = max(n, 0)
	if d.major == mcErrHopper {
		d.major = 0
	}
}

// SetRibbon loads a film good for n card sides.
func (d *Magicard) SetRibbon(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ribbonLeft, d.filmShots = max(n, 0), max(n, 0)
	if d.major == mcErrFilm {
		d.major = 0
	}
}

// Cards returns the last cards printed and ejected (at most
// Options.KeepCards), oldest first, with their decoded panels and
// composited faces. A kept card holds its job as received (3.2 to 3.7 MB
// two-sided) until Cards first returns it, then its panels and faces.
func (d *Magicard) Cards() []Printed {
	d.mu.Lock()
	kept := append([]*mcKept(nil), d.cards...)
	d.mu.Unlock()
	out := make([]Printed, len(kept))
	for i, k := range kept {
		out[i] = k.get()
	}
	return out
}

// Counters returns the printer's counters.
func (d *Magicard) Counters() drivers.Counters {
	d.mu.Lock()
	defer d.mu.Unlock()
	return drivers.Counters{Printed: d.printed, SinceCleaning: d.sinceClean, Cleanings: d.cleanings, Rejected: d.rejected}
}

// MagicardState is a snapshot of the printer's physical state.
type MagicardState struct {
	Feeder     int          // blank cards in the feeder
	RibbonLeft int          // card sides the film can still print
	CoverOpen  bool         // cover open
	Position   CardPosition // where the last card fed is
	CardInside bool         // a card is in the printer
	Error      int          // the major error REQ,INF reports; 0 none
	RejectTray []string     // labels of the cards in the reject tray
	Ejected    []string     // labels of cards pushed out by EJT after an error
	Silent     bool         // not answering (silence fault)
	Fed        int          // cards fed since start
	Queued     int          // jobs received and not yet printed or refused
}

// State returns a snapshot of the printer's physical state.
func (d *Magicard) State() MagicardState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return MagicardState{Feeder: d.feeder, RibbonLeft: d.ribbonLeft, CoverOpen: d.coverOpen, Position: d.position,
		CardInside: d.inside != nil, Error: d.major, RejectTray: append([]string(nil), d.rejectTray...),
		Ejected: append([]string(nil), d.ejected...), Silent: d.silent, Fed: d.fed, Queued: len(d.queue)}
}

// DeviceID returns the IEEE 1284 device id (GET_DEVICE_ID), as Gutenprint
// gives the Tango 2E's: "MFG:Magicard ;CMD:PCL,MPL;MDL:RioTango2D;...".
func (d *Magicard) DeviceID() string {
	mdl := "RioTango2D"
	if d.opts.Layout == MagicardKGE {
		mdl = "Enduro3E"
	}
	return fmt.Sprintf("MFG:Magicard ;CMD:PCL,MPL;MDL:%s;CLS:PRINTER;DES:%s;SN:%s;", mdl, d.opts.Model, d.opts.Serial)
}

// USBProduct is the USB product id the device presents: 0x1800 (Tango 2E)
// for KEE, 0x4800 (Enduro) for KGE.
func (d *Magicard) USBProduct() uint16 {
	if d.opts.Layout == MagicardKGE {
		return 0x4800
	}
	return 0x1800
}

// PortStatus returns the GET_PORT_STATUS byte (as Device.PortStatus).
func (d *Magicard) PortStatus() byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	var s byte
	if d.major == 0 && !d.coverOpen {
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

// SoftReset does what RST (or a USB SOFT_RESET) does: a card inside goes
// to the reject tray, errors are cleared, the cover is closed, a silent
// printer answers again and a half-received duplex job is dropped.
func (d *Magicard) SoftReset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.softReset()
}

func (d *Magicard) softReset() {
	if d.inside != nil {
		d.rejected++
		d.rejectTray = append(d.rejectTray, d.inside.label)
		d.position = CardRejected
		d.inside = nil
	}
	d.major, d.minor = 0, 0
	d.coverOpen = false
	d.silent = false
	d.front = nil
}

// eject does what EJT does: a card inside goes out to the output hopper;
// a jam or film error is cleared.
func (d *Magicard) eject() {
	if d.inside != nil {
		d.ejected = append(d.ejected, d.inside.label)
		d.position = CardEjected
		d.inside = nil
	}
	if d.major == mcErrJam || d.major == mcErrFilm {
		d.major = 0
	}
}

// clean does what CLN does.
func (d *Magicard) clean() {
	d.cleanings++
	d.sinceClean = 0
	d.cleanDue = false
	if d.major == mcErrCleaning {
		d.major = 0
	}
}

// sleep waits a stage's mechanical time, cut short by Close.
func (d *Magicard) sleep(t time.Duration) {
	if t <= 0 {
		return
	}
	tm := time.NewTimer(t)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-d.stop:
	}
}

// Error numbers the simulator reports (Magicard's Optima list; see the
// package documentation).
const (
	mcErrHopper   = 1025
	mcErrJam      = 1026
	mcErrJob      = 1028
	mcErrCover    = 1038
	mcErrFilm     = 1049
	mcErrCleaning = 2048
)

// ribbonOf is the ribbon the simulator has loaded.
func (d *Magicard) ribbonOf() card.Ribbon { return d.opts.Ribbon }
