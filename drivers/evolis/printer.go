package evolis

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
)

// Printer is an Evolis printer on a link. Its methods are safe for
// concurrent use; the printer handles one command at a time, so they run one
// after another.
type Printer struct {
	link drivers.Link
	opts Options

	printing atomic.Bool // a Print is under way

	mu      sync.Mutex
	session bool   // Pem;2 sent on this link since the last reset
	pending []byte // bytes read after the last reply
}

var (
	_ drivers.Printer      = (*Printer)(nil)
	_ drivers.RawCommander = (*Printer)(nil)
)

// New returns a driver for the Evolis printer on link. The driver does not
// own link and never closes it. Options out of range are reported by the
// first call (see Options.Validate); zero values take the documented
// defaults.
func New(link drivers.Link, opts Options) *Printer {
	return &Printer{link: link, opts: opts.withDefaults()}
}

// Counter letters for Rco;<letter>.
const (
	CounterPrinted       = "p" // cards printed
	CounterSinceCleaning = "c" // cards since the last cleaning
	CounterCleanings     = "n" // cleanings run
	CounterRejected      = "r" // cards rejected
)

// query sends a command that moves nothing and returns its reply text,
// resetting the link and retrying after a time-out, a dead link or garbage,
// at most MaxResets times. An error reply from the printer is returned at
// once, wrapped in a *drivers.Error.
func (p *Printer) query(ctx context.Context, op string, cmd []byte) (string, error) {
	var err, resetErr error
	for attempt := 0; attempt <= p.opts.MaxResets; attempt++ {
		if attempt > 0 {
			if rerr := p.resetLink(ctx, err); rerr != nil {
				resetErr = rerr
			}
		}
		if err = p.startSession(ctx); err == nil {
			var reply string
			if reply, err = p.exchange(ctx, cmd, p.opts.ReplyTimeout); err == nil {
				return reply, nil
			}
		}
		if !needsReset(err) || ctx.Err() != nil {
			break
		}
	}
	return "", &drivers.Error{Op: op + " " + commandName(cmd), Code: codeFor(err), Feed: drivers.BeforeFeed, Err: errors.Join(err, resetErr)}
}

// startSession sends Pem;2 (the host manages errors) once per link session.
func (p *Printer) startSession(ctx context.Context) error {
	if p.session {
		return nil
	}
	if err := p.opts.Validate(); err != nil {
		return err
	}
	if _, err := p.exchange(ctx, Command("Pem", "2"), p.opts.ReplyTimeout); err != nil {
		return err
	}
	p.session = true
	return nil
}

// Info reads the model (Rtp), serial number (Rsn), firmware (Rfv) and
// ribbon (Rr); Options.Ribbon, when set, is the ribbon it reports.
func (p *Printer) Info(ctx context.Context) (drivers.Info, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var info drivers.Info
	for _, f := range []struct {
		cmd string
		dst *string
	}{{"Rtp", &info.Model}, {"Rsn", &info.Serial}, {"Rfv", &info.Firmware}} {
		v, err := p.query(ctx, "info", Command(f.cmd))
		if err != nil {
			return info, err
		}
		*f.dst = v
	}
	if v, err := p.query(ctx, "info", Command("Rr")); err == nil {
		info.Ribbon, _ = parseRibbon(v)
	} else if c := drivers.CodeOf(err); c != drivers.RibbonOut && c != drivers.BadCommand {
		return info, err // no ribbon, or a model without Rr: Ribbon stays empty
	}
	if p.opts.Ribbon != "" {
		info.Ribbon = p.opts.Ribbon // the URI's ribbon= overrides what the printer says
	}
	return info, nil
}

// parseRibbon reads an Rr reply: the ribbon type, optionally followed by the
// number of cards left ("YMCKO;123"); left is -1 when absent.
func parseRibbon(s string) (card.Ribbon, int) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
	if len(f) == 0 {
		return "", -1
	}
	r := card.Ribbon(strings.ToLower(f[0]))
	if r.Valid() != nil {
		r = ""
	}
	left := -1
	for _, t := range f[1:] {
		if n, err := strconv.Atoi(t); err == nil && n >= 0 {
			left = n
			break
		}
	}
	return r, left
}

// RibbonLowAt is the number of cards left at or under which Status reports
// RibbonLow.
const RibbonLowAt = 10

// Status reads the card position (Rlr;p), the cover (Rse;o), the feeder
// (Rse;f) and the ribbon (Rr). Error replies become Problems; a card inside
// the printer is CardJam, since Status never runs during a Print of this
// driver. During a Print, Status answers at once, Busy and not Ready,
// without disturbing the printer. When the printer does not answer, Status
// returns Problems [offline] and the error.
func (p *Printer) Status(ctx context.Context) (drivers.Status, error) {
	if p.printing.Load() {
		return drivers.Status{Busy: true, RibbonLeft: -1}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := drivers.Status{RibbonLeft: -1}
	seen := map[drivers.Code]bool{}
	add := func(c drivers.Code) {
		if !seen[c] {
			seen[c] = true
			st.Problems = append(st.Problems, c)
		}
	}
	for _, q := range []struct {
		cmd   []byte
		parse func(string)
	}{
		{Command("Rlr", "p"), func(v string) {
			// The driver prints one card at a time and Status waits for
			// it: a card inside the printer now is stuck there.
			if strings.Contains(strings.ToUpper(v), "CARD") {
				add(drivers.CardJam)
			}
		}},
		{Command("Rse", "o"), func(v string) {
			if volts, err := parseVolts(v); err == nil && volts < 2.5 {
				add(drivers.CoverOpen)
			}
		}},
		{Command("Rse", "f"), func(v string) {
			u := strings.ToUpper(v)
			if strings.Contains(u, "EMPTY") || strings.Contains(u, "NO CARD") {
				add(drivers.FeederEmpty)
			} else if volts, err := parseVolts(v); err == nil && volts < 2.5 {
				add(drivers.FeederEmpty)
			}
		}},
		{Command("Rr"), func(v string) {
			_, st.RibbonLeft = parseRibbon(v)
			switch {
			case st.RibbonLeft == 0:
				add(drivers.RibbonOut)
			case st.RibbonLeft > 0 && st.RibbonLeft <= RibbonLowAt:
				add(drivers.RibbonLow)
			}
		}},
	} {
		v, err := p.query(ctx, "status", q.cmd)
		var re *ReplyError
		switch {
		case err == nil:
			q.parse(v)
		case errors.As(err, &re) && re.Code != drivers.BadCommand:
			add(re.Code)
		case errors.As(err, &re):
			// The model lacks this sensor: nothing to report.
		default:
			st.Problems = []drivers.Code{drivers.Offline}
			return st, err
		}
	}
	st.Ready = !st.Busy
	for _, c := range st.Problems {
		if c != drivers.RibbonLow {
			st.Ready = false
		}
	}
	return st, nil
}

// Counters reads Rco;p (printed), Rco;c (since cleaning), Rco;n
// (cleanings) and Rco;r (rejected). A counter the model does not know
// (ERROR PARAMETRES) reads as 0.
func (p *Printer) Counters(ctx context.Context) (drivers.Counters, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var c drivers.Counters
	for _, f := range []struct {
		letter string
		dst    *int
	}{{CounterPrinted, &c.Printed}, {CounterSinceCleaning, &c.SinceCleaning}, {CounterCleanings, &c.Cleanings}, {CounterRejected, &c.Rejected}} {
		v, err := p.query(ctx, "counters", Command("Rco", f.letter))
		if err != nil {
			if drivers.CodeOf(err) == drivers.BadCommand && f.letter != CounterPrinted {
				continue
			}
			return c, err
		}
		n, perr := strconv.Atoi(strings.TrimSpace(v))
		if perr != nil || n < 0 {
			return c, &drivers.Error{Op: "counters Rco", Code: drivers.Protocol, Feed: drivers.BeforeFeed,
				Err: fmt.Errorf("evolis: counter %s reply is not a count: %w", f.letter, drivers.Protocol)}
		}
		*f.dst = n
	}
	return c, nil
}

// motion sends a command that moves something (Scp, Srs) once, waiting
// MotionTimeout, and resets the link when no clean reply came.
func (p *Printer) motion(ctx context.Context, op string, cmd []byte, feed drivers.Feed) error {
	err := p.startSession(ctx)
	if err == nil {
		var reply string
		reply, err = p.exchange(ctx, cmd, p.opts.MotionTimeout)
		if err == nil && reply != "OK" {
			err = fmt.Errorf("evolis: %s answered %q, want OK: %w", commandName(cmd), reply, drivers.Protocol)
		}
	}
	if err == nil {
		return nil
	}
	if needsReset(err) && ctx.Err() == nil {
		if rerr := p.resetLink(ctx, err); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return &drivers.Error{Op: op, Code: codeFor(err), Feed: feed, Err: err}
}

// Clean runs the cleaning sequence (Scp); the ribbon must be out and a
// cleaning card in the feeder.
func (p *Printer) Clean(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.motion(ctx, "clean", Command("Scp"), drivers.BeforeFeed)
}

// Reset soft-resets the printer (Srs). When the printer does not answer,
// the link itself is reset; either way the next command starts a new
// session (Pem;2).
func (p *Printer) Reset(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.motion(ctx, "reset", Command("Srs"), drivers.FeedUnknown)
	p.session = false
	return err
}

// Raw sends one command (e.g. "Rtp" or "Rco;p", without ESC and CR) and
// returns the printer's reply, error strings included. err is set only when
// no reply could be read, or cmd is not one printable ASCII command.
func (p *Printer) Raw(ctx context.Context, cmd string) (string, error) {
	if cmd == "" {
		return "", fmt.Errorf("evolis: raw command is empty")
	}
	for i := 0; i < len(cmd); i++ {
		if cmd[i] < 0x20 || cmd[i] > 0x7e {
			return "", fmt.Errorf("evolis: raw command byte %d is 0x%02x: want printable ASCII without ESC or CR", i, cmd[i])
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.startSession(ctx); err != nil {
		return "", p.rawFail(ctx, err)
	}
	reply, err := p.exchange(ctx, Command(cmd), p.opts.MotionTimeout)
	var re *ReplyError
	if errors.As(err, &re) {
		return re.Reply, nil
	}
	if err != nil {
		return "", p.rawFail(ctx, err)
	}
	return reply, nil
}

func (p *Printer) rawFail(ctx context.Context, err error) error {
	if needsReset(err) && ctx.Err() == nil {
		_ = p.resetLink(ctx, err)
	}
	return &drivers.Error{Op: "raw", Code: codeFor(err), Feed: drivers.FeedUnknown, Err: err}
}

// step is one command of a print sequence.
type step struct {
	cmd   []byte
	slow  bool // waits MotionTimeout
	feeds bool // the command that takes a card from the feeder
	// check, if set, runs once the command was answered OK: the chip
	// encoding at the station, the stripe's read-back. Its failure spoils
	// the card (rejected, EncodeFailed).
	check func(ctx context.Context) error
}

// ribbonFor picks the ribbon for a card: the card's, which must match the
// loaded one if Options.Ribbon is set, else Options.Ribbon, else ymcko.
func (p *Printer) ribbonFor(c card.Card) (card.Ribbon, error) {
	r := c.Ribbon
	switch {
	case r == "" && p.opts.Ribbon != "":
		r = p.opts.Ribbon
	case r == "":
		r = card.YMCKO
	case p.opts.Ribbon != "" && r != p.opts.Ribbon:
		return "", fmt.Errorf("evolis: card needs ribbon %s but the printer is set up with %s", r, p.opts.Ribbon)
	}
	return r, r.Valid()
}

// cardSteps returns the command sequence for a card, without session start
// (Pem;2) and padding: Pr, Ss, the magnetic tracks (Pmt, Dm, Smw), Sr and
// the front panels, Sv and the back panels, Se. It validates the card.
func cardSteps(c card.Card, ribbon card.Ribbon, opts Options) ([]step, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := ribbon.Valid(); err != nil {
		return nil, fmt.Errorf("evolis: %w", err)
	}
	steps := []step{{cmd: Command("Pr", string(ribbon))}, {cmd: Command("Ss")}}
	var mag []step
	for i, t := range c.Mag {
		if t == "" {
			continue
		}
		if err := ValidateTrack(i+1, t); err != nil {
			return nil, err
		}
		n := strconv.Itoa(i + 1)
		mag = append(mag, step{cmd: Command("Pmt", n, n)}, step{cmd: Command("Dm", n, t)})
	}
	if len(mag) > 0 {
		steps = append(steps, mag...)
		steps = append(steps, step{cmd: Command("Smw"), slow: true, feeds: true})
	}
	front, err := sideSteps("front", c.Front, ribbon, false, opts)
	if err != nil {
		return nil, err
	}
	if len(mag) == 0 {
		front[0].feeds = true
	}
	steps = append(steps, step{cmd: Command("Sr")})
	steps = append(steps, front...)
	if c.Back != nil {
		back, err := sideSteps("back", *c.Back, ribbon, true, opts)
		if err != nil {
			return nil, err
		}
		steps = append(steps, step{cmd: Command("Sv"), slow: true})
		steps = append(steps, back...)
	}
	return append(steps, step{cmd: Command("Se"), slow: true}), nil
}

// sideSteps returns the panel downloads for one side in ribbon order, the
// panels card.Ribbon.SidePanels gives that side. A nil plane is sent blank,
// so the ribbon's panels stay in step with the printer.
func sideSteps(side string, s card.Side, ribbon card.Ribbon, back bool, opts Options) ([]step, error) {
	type pl struct {
		name  string
		plane *image.Gray
	}
	var planes []pl
	want := ribbon.SidePanels(back)
	if want.Colour {
		planes = append(planes, pl{PanelY, s.Y}, pl{PanelM, s.M}, pl{PanelC, s.C})
	}
	planes = append(planes, pl{PanelK, s.K})
	if want.Overlay {
		planes = append(planes, pl{PanelO, s.O})
	}
	out := make([]step, 0, len(planes))
	for _, x := range planes {
		cmd, err := printOrderCommand(x.name, x.plane, opts)
		if err != nil {
			return nil, fmt.Errorf("evolis: %s %s plane: %w", side, x.name, err)
		}
		out = append(out, step{cmd: cmd, slow: true})
	}
	return out, nil
}

// EncodeCard returns the whole command stream for one card as a print
// filter writes it, with no replies expected: Pem;2, Pr, Ss, the magnetic
// tracks, Sr and the front panels, Sv and the back panels, Se, and the NUL
// padding. The ribbon is the card's (which must match opts.Ribbon if that is
// set), else opts.Ribbon, else ymcko.
func EncodeCard(c card.Card, opts Options) ([]byte, error) {
	if c.Chip != nil {
		return nil, errors.New("evolis: the card has a chip to encode, which needs a live printer and its encoder, not a command stream")
	}
	p := &Printer{opts: opts.withDefaults()}
	ribbon, err := p.ribbonFor(c)
	if err != nil {
		return nil, err
	}
	steps, err := cardSteps(c, ribbon, p.opts)
	if err != nil {
		return nil, err
	}
	pem := Command("Pem", "2")
	n := len(pem) + max(p.opts.Padding, 0)
	for _, s := range steps {
		n += len(s.cmd)
	}
	out := make([]byte, 0, n)
	out = append(out, pem...)
	for _, s := range steps {
		out = append(out, s.cmd...)
	}
	return append(out, make([]byte, p.opts.Padding)...), nil
}

// Print prints one card: Pr, Ss, magnetic tracks, Sr, front panels, Sv,
// back panels, Se, then the NUL padding. A card that fails validation, or a
// failure before the first panel download (or magnetic write), is
// BeforeFeed. An error reply to the command that takes the card (the first
// Db, or Smw) is BeforeFeed when it says the feeder is empty, AfterFeed for
// Smw's other errors (the card was in the encoder) and FeedUnknown
// otherwise, as is a time-out or dead link on that command. Once that command
// has been answered OK every failure is AfterFeed. After a time-out, a dead
// link or garbage, the link is reset once before Print returns.
func (p *Printer) Print(ctx context.Context, c card.Card) error {
	fail := func(code drivers.Code, feed drivers.Feed, err error) error {
		return &drivers.Error{Op: "print", Code: code, Feed: feed, Err: err}
	}
	if err := p.opts.Validate(); err != nil {
		return fail(drivers.BadCommand, drivers.BeforeFeed, err)
	}
	ribbon, err := p.ribbonFor(c)
	if err != nil {
		return fail(drivers.BadCommand, drivers.BeforeFeed, err)
	}
	steps, err := cardSteps(c, ribbon, p.opts)
	if err != nil {
		return fail(drivers.BadCommand, drivers.BeforeFeed, err)
	}
	if steps, err = p.encodeSteps(c, steps); err != nil {
		return fail(drivers.BadCommand, drivers.BeforeFeed, err)
	}
	if err := p.encoderReady(ctx, c); err != nil {
		// nothing fed: the encoder must be fixed before a chip card is
		// worth feeding
		return fail(drivers.BadConfig, drivers.BeforeFeed, err)
	}
	last := &steps[len(steps)-1]
	last.cmd = append(last.cmd, make([]byte, p.opts.Padding)...)

	p.mu.Lock()
	defer p.mu.Unlock()
	p.printing.Store(true)
	defer p.printing.Store(false)
	if l, ok := p.link.(drivers.Labeler); ok {
		l.SetLabel(c.Label)
	}
	if err := p.startSession(ctx); err != nil {
		if needsReset(err) && ctx.Err() == nil {
			if rerr := p.resetLink(ctx, err); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return fail(codeFor(err), drivers.BeforeFeed, err)
	}
	fed := drivers.BeforeFeed
	start := time.Now()
	for i, s := range steps {
		timeout := p.opts.ReplyTimeout
		if s.slow {
			timeout = p.opts.MotionTimeout
		}
		reply, err := p.exchange(ctx, s.cmd, timeout)
		if err == nil && reply != "OK" {
			err = fmt.Errorf("evolis: %s answered %q, want OK: %w", commandName(s.cmd), reply, drivers.Protocol)
		}
		if err == nil {
			if s.feeds {
				fed = drivers.AfterFeed
			}
			if s.check != nil {
				if err := s.check(ctx); err != nil {
					return p.spoil(ctx, c.Label, commandName(s.cmd), err)
				}
			}
			continue
		}
		feed := fed
		if s.feeds && fed == drivers.BeforeFeed {
			var re *ReplyError
			switch {
			case errors.As(err, &re) && re.Code == drivers.FeederEmpty:
				feed = drivers.BeforeFeed
			case errors.As(err, &re) && commandName(s.cmd) == "Smw":
				feed = drivers.AfterFeed
			default:
				feed = drivers.FeedUnknown
			}
		}
		if needsReset(err) && ctx.Err() == nil {
			if rerr := p.resetLink(ctx, err); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		p.opts.Logger.Debug("evolis: card failed", "label", c.Label, "step", i, "command", commandName(s.cmd), "feed", feed)
		return &drivers.Error{Op: "print " + commandName(s.cmd), Code: codeFor(err), Feed: feed, Err: err}
	}
	p.opts.Logger.Debug("evolis: card printed", "label", c.Label, "ribbon", string(ribbon), "took", time.Since(start))
	return nil
}
