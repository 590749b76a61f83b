package sim

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/cityid/printerd/card"
)

// Options configure a simulated printer. The zero value is a working
// printer: an "Evolis Primacy" with a YMCKO ribbon for 300 cards, 100 cards
// in the feeder, no mechanical delay, no output files and no faults.
type Options struct {
	// Name names the device in logs and in a sim:// Registry. Empty
	// means "sim".
	Name string
	// Model is what Rtp answers. Empty means "Evolis Primacy".
	Model string
	// Serial is what Rsn answers. Empty means "SIM" followed by six digits
	// derived from Name.
	Serial string
	// Firmware is what Rfv answers. Empty means "1.0.0-sim".
	Firmware string
	// HeadKit is what Rkn answers. Empty means "KIT-SIM-300".
	HeadKit string
	// Ribbon is the ribbon loaded, as Rr answers it. Empty means ymcko.
	Ribbon card.Ribbon
	// RibbonCards is how many card sides the ribbon can still print. Zero
	// means 300; negative means the ribbon is used up.
	RibbonCards int
	// FeederCards is how many blank cards are in the feeder. Zero means
	// 100; negative means the feeder is empty.
	FeederCards int
	// CleaningEvery is how many cards the printer prints before it answers
	// NEED CLEANING until cleaned (Scp). Zero means never.
	CleaningEvery int
	// Speed scales the mechanical time: 0 no delay, 1 a real printer's pace
	// (about 16 s for a one-sided YMCKO card: 1.5 s to feed, 3 s for each
	// of Y, M and C, 2 s for each of K and O, 1.5 s to eject).
	Speed float64
	// Out is the directory where each printed card is written as
	// <label>-front.png and, if it has a back, <label>-back.png. Empty
	// means no files.
	Out string
	// KeepCards is how many printed cards the device keeps for Cards, the
	// newest; older ones are dropped (their files in Out stay, and the
	// counters count every card). A kept card holds its panels as
	// received (at most 1.4 MB a side, far less compressed) until Cards
	// first returns it, then its composited faces and panels (about 6 MB
	// a side). Zero means 16; negative means none.
	KeepCards int
	// Rotation is the rotation, in degrees, that the driver applied to turn
	// the landscape design into print order: 270 or 90 (as
	// evolis.Options.Rotation). The simulator applies the inverse so that
	// its images look like the designed card. Zero means 270; any other
	// value (e.g. 360) keeps print order: 648 x 1016 portrait images.
	Rotation int
	// ReadTimeout is how long the printer waits for the next byte of a
	// command it has started to read before it answers ERROR TIME OUT and
	// drops the command. Zero means 5 s.
	ReadTimeout time.Duration
	// Faults are injected at start; see Faults and ParseFaults.
	Faults Faults
	// VPCD is the address of vsmartcard's vpcd (e.g. vchip.Addr0,
	// 127.0.0.1:35963) where the printer's encoder station presents a
	// virtual chip to pcscd while a card sits there (Sis, Sic). Empty
	// means the cards have no chip a host can reach.
	VPCD string
	// Logger receives debug records of commands (names only, never
	// parameters or payloads). Nil means no logging.
	Logger *slog.Logger
}

// DefaultKeepCards is how many printed cards a device keeps for Cards
// when Options.KeepCards is zero.
const DefaultKeepCards = 16

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "sim"
	}
	if o.Model == "" {
		o.Model = "Evolis Primacy"
	}
	if o.Serial == "" {
		var h uint32 = 2166136261
		for i := 0; i < len(o.Name); i++ {
			h = (h ^ uint32(o.Name[i])) * 16777619
		}
		o.Serial = fmt.Sprintf("SIM%06d", h%1000000)
	}
	if o.Firmware == "" {
		o.Firmware = "1.0.0-sim"
	}
	if o.HeadKit == "" {
		o.HeadKit = "KIT-SIM-300"
	}
	if o.Ribbon == "" {
		o.Ribbon = card.YMCKO
	}
	if o.RibbonCards == 0 {
		o.RibbonCards = 300
	} else if o.RibbonCards < 0 {
		o.RibbonCards = 0
	}
	if o.FeederCards == 0 {
		o.FeederCards = 100
	} else if o.FeederCards < 0 {
		o.FeederCards = 0
	}
	if o.KeepCards == 0 {
		o.KeepCards = DefaultKeepCards
	}
	if o.Rotation == 0 {
		o.Rotation = 270
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Stage is a point in a card's way through the printer where a fault can
// strike: the feed, the printing of one panel, or the eject.
type Stage string

// Stages, in the order a one-sided YMCKO card passes them.
const (
	StageFeed  Stage = "feed"
	StageY     Stage = "y"
	StageM     Stage = "m"
	StageC     Stage = "c"
	StageK     Stage = "k"
	StageO     Stage = "o"
	StageEject Stage = "eject"
)

func (s Stage) valid() bool {
	switch s {
	case StageFeed, StageY, StageM, StageC, StageK, StageO, StageEject:
		return true
	}
	return false
}

// Trigger places a fault at a stage of a card. Card counts cards fed from
// the moment the fault is set: 1 (or 0) is the next card, 2 the one after.
// A trigger fires once.
type Trigger struct {
	Stage Stage
	Card  int
}

func (t Trigger) String() string {
	if t.Card > 1 {
		return string(t.Stage) + "@" + strconv.Itoa(t.Card)
	}
	return string(t.Stage)
}

// Faults are injected failures. The zero value injects none. Each fault
// makes the printer answer what a real one does and leaves the state a real
// one is left in; see the package documentation for the spec syntax.
type Faults struct {
	// RibbonOutAfter, if set, lets the ribbon print only that many more
	// card sides; the next card is refused with ERROR RIBBON before it is
	// fed (at Ss).
	RibbonOutAfter *int
	// RibbonOut breaks the ribbon at a stage: ERROR RIBBON after the card
	// was fed, the card stays in the printer.
	RibbonOut []Trigger
	// Jam jams the card at a stage: CARD JAM, the card stays in the printer
	// until Ser, Seb or Srs.
	Jam []Trigger
	// CoverOpen opens the cover at a stage: COVER OPEN; at the feed stage
	// no card has moved, later the card stays in the printer. The cover is
	// closed again by Srs or Scs (the operator closed it and pressed the
	// button) or Device.SetCover.
	CoverOpen []Trigger
	// CoverOpenNow opens the cover at once.
	CoverOpenNow bool
	// Feeder, if set, puts exactly that many cards in the feeder (0: the
	// feeder is empty and Ss answers FEEDER EMPTY).
	Feeder *int
	// SilentAfter, if set, makes the printer stop answering after that many
	// more commands, until Srs (which it still obeys and answers) or a new
	// connection.
	SilentAfter *int
	// Drop drops the link at a stage: Serve returns ErrDropped (the sim://
	// link and the TCP server close the connection) and the card stays in
	// the printer.
	Drop []Trigger
	// Garbage, if set, makes the printer answer one command, after that
	// many more commands, with garbage bytes instead of its reply.
	Garbage *int
	// NeedCleaningAfter, if set, makes the printer answer NEED CLEANING
	// (at Ss) once that many more cards have been printed, until Scp.
	NeedCleaningAfter *int
	// Chip arms chip faults at the encoder station, per card: the chip
	// missing, refusing writes, or removed in the middle of the write.
	Chip []ChipFault
}

// Int returns a pointer to n, for the optional counts in Faults.
func Int(n int) *int { return &n }

// String writes f in the syntax ParseFaults reads.
func (f Faults) String() string {
	var parts []string
	num := func(name string, p *int) {
		if p != nil {
			parts = append(parts, name+"="+strconv.Itoa(*p))
		}
	}
	trig := func(name string, ts []Trigger) {
		for _, t := range ts {
			parts = append(parts, name+"="+t.String())
		}
	}
	num("ribbon-out-after", f.RibbonOutAfter)
	trig("ribbon-out", f.RibbonOut)
	trig("jam", f.Jam)
	trig("cover-open", f.CoverOpen)
	if f.CoverOpenNow {
		parts = append(parts, "cover-open")
	}
	num("feeder", f.Feeder)
	num("silent-after", f.SilentAfter)
	trig("drop", f.Drop)
	num("garbage", f.Garbage)
	num("need-cleaning-after", f.NeedCleaningAfter)
	for _, c := range f.Chip {
		parts = append(parts, c.String())
	}
	return strings.Join(parts, ",")
}

// ParseFaults reads a fault spec: faults separated by commas, e.g.
// "jam=y@2,ribbon-out-after=10". See the package documentation for the list.
// An empty spec is no fault.
func ParseFaults(spec string) (Faults, error) {
	var f Faults
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, val, hasVal := strings.Cut(item, "=")
		num := func() (*int, error) {
			n, err := strconv.Atoi(val)
			if !hasVal || err != nil || n < 0 {
				return nil, fmt.Errorf("sim: fault %q: want %s=N with N a whole number >= 0", name, name)
			}
			return &n, nil
		}
		trig := func() (Trigger, error) {
			st, at, hasAt := strings.Cut(val, "@")
			t := Trigger{Stage: Stage(st), Card: 1}
			if !hasVal || !t.Stage.valid() {
				return t, fmt.Errorf("sim: fault %q: want %s=STAGE[@N] with STAGE one of feed, y, m, c, k, o, eject", name, name)
			}
			if hasAt {
				n, err := strconv.Atoi(at)
				if err != nil || n < 1 {
					return t, fmt.Errorf("sim: fault %q: card number after @ must be a whole number >= 1", name)
				}
				t.Card = n
			}
			return t, nil
		}
		var err error
		var t Trigger
		switch name {
		case "ribbon-out-after":
			f.RibbonOutAfter, err = num()
		case "ribbon-out":
			if t, err = trig(); err == nil {
				f.RibbonOut = append(f.RibbonOut, t)
			}
		case "jam":
			if t, err = trig(); err == nil {
				f.Jam = append(f.Jam, t)
			}
		case "cover-open":
			if !hasVal {
				f.CoverOpenNow = true
			} else if t, err = trig(); err == nil {
				f.CoverOpen = append(f.CoverOpen, t)
			}
		case "feeder-empty":
			if hasVal {
				err = fmt.Errorf("sim: fault %q takes no value", name)
			}
			f.Feeder = Int(0)
		case "feeder":
			f.Feeder, err = num()
		case "silent-after":
			f.SilentAfter, err = num()
		case "drop":
			if t, err = trig(); err == nil {
				f.Drop = append(f.Drop, t)
			}
		case "garbage":
			f.Garbage, err = num()
		case "need-cleaning-after":
			f.NeedCleaningAfter, err = num()
		case "chip":
			var c ChipFault
			if c, err = parseChipFault(val); err == nil {
				f.Chip = append(f.Chip, c)
			}
		default:
			err = fmt.Errorf("sim: unknown fault %q: want ribbon-out-after, ribbon-out, jam, cover-open, feeder-empty, feeder, silent-after, drop, garbage, need-cleaning-after or chip", name)
		}
		if err != nil {
			return Faults{}, err
		}
	}
	return f, nil
}
