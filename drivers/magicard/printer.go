package magicard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
)

// Printer is a Magicard printer of the text protocol (Rio 2e / Tango 2e
// "KEE" or Enduro / Rio Pro / Pronto "KGE" line layout) on a link. Its
// methods are safe for concurrent use and run one after another.
type Printer struct {
	link drivers.Link
	opts Options

	printing atomic.Bool

	mu      sync.Mutex
	pending []byte // bytes read after the last reply
	layout  Layout // learnt from the model name, when Options.Layout is empty
}

var (
	_ drivers.Printer      = (*Printer)(nil)
	_ drivers.RawCommander = (*Printer)(nil)
)

// New returns a driver for the Magicard printer on link. The driver does
// not own link and never closes it. Options out of range are reported by
// the first call; zero values take the documented defaults.
func New(link drivers.Link, opts Options) *Printer {
	return &Printer{link: link, opts: opts.withDefaults()}
}

// Command bytes. Queries and maintenance commands follow S (9 x 0x05,
// 0x01, bare tokens with a trailing comma, 0x1C 0x03), except REQ,INF and
// CLN, which only V sends, in V's form.
const commandLead = 9

func command(tokens string) []byte {
	b := bytes.Repeat([]byte{enq}, commandLead)
	b = append(b, soh)
	b = append(b, tokens...)
	return append(b, fs, etx)
}

// CommandSTA is REQ,STA,<key>, a status or counter query (S).
func CommandSTA(key string) []byte { return command("REQ,STA," + key + ",") }

// CommandINF is REQ,INF, the status line of V: no lead bytes.
func CommandINF() []byte { return []byte("\x01,REQ,INF,\x1c\x03") }

// CommandCLN is V's cleaning command: 8 x 0x05, 0x01, ",REQ,CLN,".
func CommandCLN() []byte {
	return append(bytes.Repeat([]byte{enq}, 8), []byte("\x01,REQ,CLN,\x1c\x03")...)
}

// CommandRST and CommandEJT are S's reset and eject.
func CommandRST() []byte { return command("RST,") }

// CommandEJT ejects the card in the printer (S).
func CommandEJT() []byte { return command("EJT,") }

// exchange writes cmd and reads one reply frame (0x01 ... 0x03) within
// ReplyTimeout.
func (p *Printer) exchange(ctx context.Context, cmd []byte) ([]byte, error) {
	p.pending = nil // stale bytes of an earlier reply
	if err := p.write(ctx, cmd); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.ReplyTimeout)
	defer cancel()
	buf := make([]byte, 512)
	for {
		if i := bytes.IndexByte(p.pending, etx); i >= 0 {
			frame := p.pending[:i+1]
			p.pending = p.pending[i+1:]
			if j := bytes.LastIndexByte(frame, soh); j > 0 {
				frame = frame[j:] // noise before the frame
			}
			return frame, nil
		}
		if len(p.pending) > maxReply {
			return nil, fmt.Errorf("magicard: %d bytes without 0x03: %w", len(p.pending), drivers.Protocol)
		}
		n, err := p.link.Read(ctx, buf)
		p.pending = append(p.pending, buf[:n]...)
		if err != nil && n == 0 {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, fmt.Errorf("magicard: no reply within %v: %w", p.opts.ReplyTimeout, drivers.Timeout)
			}
			return nil, linkErr(err)
		}
	}
}

func linkErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
		return fmt.Errorf("magicard: link closed: %w: %w", err, drivers.Offline)
	}
	if drivers.CodeOf(err) != drivers.Unknown {
		return err
	}
	return fmt.Errorf("magicard: link: %w: %w", err, drivers.Offline)
}

// write sends b within ReplyTimeout plus its length at MinRate.
func (p *Printer) write(ctx context.Context, b []byte) error {
	d := p.opts.ReplyTimeout + time.Duration(len(b))*time.Second/time.Duration(p.opts.MinRate)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if _, err := p.link.Write(ctx, b); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("magicard: write of %d bytes outlived %v: %w", len(b), d, drivers.Timeout)
		}
		return linkErr(err)
	}
	return nil
}

// query sends a query and parses its reply, resetting the link and
// retrying after a time-out, a dead link or a malformed reply, at most
// MaxResets times. Failures are BeforeFeed *drivers.Error values.
func (p *Printer) query(ctx context.Context, op string, cmd []byte, parse func([]byte) error) error {
	if err := p.opts.Validate(); err != nil {
		return &drivers.Error{Op: op, Code: drivers.BadCommand, Feed: drivers.BeforeFeed, Err: err}
	}
	var err, resetErr error
	for attempt := 0; attempt <= p.opts.MaxResets; attempt++ {
		if attempt > 0 {
			if rerr := p.resetLink(ctx); rerr != nil {
				resetErr = rerr
			}
		}
		var reply []byte
		if reply, err = p.exchange(ctx, cmd); err == nil {
			if err = parse(reply); err == nil {
				return nil
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	return &drivers.Error{Op: op, Code: codeFor(err), Feed: drivers.BeforeFeed, Err: errors.Join(err, resetErr)}
}

func codeFor(err error) drivers.Code {
	if c := drivers.CodeOf(err); c != drivers.Unknown {
		return c
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return drivers.Timeout
	}
	return drivers.Unknown
}

// resetLink resets the link (a reconnect) and drops what was buffered.
func (p *Printer) resetLink(ctx context.Context) error {
	p.pending = nil
	ctx, cancel := context.WithTimeout(ctx, p.opts.ReplyTimeout)
	defer cancel()
	p.opts.Logger.Debug("magicard: resetting the link")
	return p.link.Reset(ctx)
}

// inf runs REQ,INF.
func (p *Printer) inf(ctx context.Context, op string) (Inf, error) {
	var inf Inf
	err := p.query(ctx, op, CommandINF(), func(b []byte) error {
		var err error
		inf, err = ParseINF(b)
		return err
	})
	return inf, err
}

// sta runs REQ,STA,<key>.
func (p *Printer) sta(ctx context.Context, op, key string) (string, error) {
	var v string
	err := p.query(ctx, op, CommandSTA(key), func(b []byte) error {
		var err error
		v, err = ParseSTA(b, key)
		return err
	})
	return v, err
}

// Info reads the model, serial number, firmware and film type (REQ,INF);
// Options.Ribbon, when set, is the ribbon it reports.
func (p *Printer) Info(ctx context.Context) (drivers.Info, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inf, err := p.inf(ctx, "info")
	if err != nil {
		return drivers.Info{}, err
	}
	info := drivers.Info{Model: inf.Model, Serial: inf.Serial, Firmware: inf.Firmware, Ribbon: filmRibbon(inf.FilmType)}
	if p.opts.Ribbon != "" {
		info.Ribbon = p.opts.Ribbon // the URI's ribbon= overrides what the printer says
	}
	return info, nil
}

// filmRibbon reads the film type field as a ribbon name when it is one
// printerd knows (the field's real format is unknown).
func filmRibbon(s string) card.Ribbon {
	r := card.Ribbon(bytes.ToLower([]byte(s)))
	if r.Valid() != nil {
		return ""
	}
	return r
}

// RibbonLowAt is the number of prints left at or under which Status
// reports RibbonLow.
const RibbonLowAt = 10

// Status reads REQ,INF: the major error becomes a problem, the film's
// shots left RibbonLeft (RibbonOut at 0, RibbonLow at RibbonLowAt or
// fewer). During a Print, Status answers at once, Busy and not Ready.
// When the printer does not answer, Status returns Problems [offline] and
// the error.
func (p *Printer) Status(ctx context.Context) (drivers.Status, error) {
	if p.printing.Load() {
		return drivers.Status{Busy: true, RibbonLeft: -1}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := drivers.Status{RibbonLeft: -1}
	inf, err := p.inf(ctx, "status")
	if err != nil {
		st.Problems = []drivers.Code{drivers.Offline}
		return st, err
	}
	if inf.Major != ErrNone {
		st.Problems = append(st.Problems, CodeOf(inf.Major))
	}
	st.RibbonLeft = inf.RibbonLeft()
	switch {
	case st.RibbonLeft == 0 && inf.Major == ErrNone:
		st.Problems = append(st.Problems, drivers.RibbonOut)
	case st.RibbonLeft > 0 && st.RibbonLeft <= RibbonLowAt:
		st.Problems = append(st.Problems, drivers.RibbonLow)
	}
	st.Ready = true
	for _, c := range st.Problems {
		if c != drivers.RibbonLow {
			st.Ready = false
		}
	}
	return st, nil
}

// Counter keys of REQ,STA (S).
const (
	KeyPrinted       = "TCQ" // total cards printed
	KeySinceCleaning = "CCQ" // cards since cleaning
	KeyCleanings     = "TCN" // cleaning cycles
)

// Counters reads TCQ (printed), CCQ (since cleaning) and TCN (cleanings)
// with REQ,STA. The text protocol has no rejected-card counter: Rejected
// is 0.
func (p *Printer) Counters(ctx context.Context) (drivers.Counters, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var c drivers.Counters
	for _, f := range []struct {
		key string
		dst *int
	}{{KeyPrinted, &c.Printed}, {KeySinceCleaning, &c.SinceCleaning}, {KeyCleanings, &c.Cleanings}} {
		v, err := p.sta(ctx, "counters", f.key)
		if err != nil {
			return c, err
		}
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			return c, &drivers.Error{Op: "counters", Code: drivers.Protocol, Feed: drivers.BeforeFeed,
				Err: fmt.Errorf("magicard: counter %s reply is not a count: %w", f.key, drivers.Protocol)}
		}
		*f.dst = n
	}
	return c, nil
}

// maintenance sends a command that gets no reply (RST, EJT, CLN), then
// waits until REQ,INF answers and check accepts it, within
// PrintTimeout.
func (p *Printer) maintenance(ctx context.Context, op string, cmd []byte, feed drivers.Feed, limit time.Duration, check func(Inf) bool) error {
	if err := p.opts.Validate(); err != nil {
		return &drivers.Error{Op: op, Code: drivers.BadCommand, Feed: feed, Err: err}
	}
	err := p.write(ctx, cmd)
	if err != nil && ctx.Err() == nil {
		if rerr := p.resetLink(ctx); rerr == nil {
			err = p.write(ctx, cmd)
		}
	}
	if err != nil {
		return &drivers.Error{Op: op, Code: codeFor(err), Feed: feed, Err: err}
	}
	inf, err := p.poll(ctx, limit, func(inf Inf) (bool, error) { return check(inf), nil })
	switch {
	case err == nil:
		return nil
	case inf.Fields != nil && inf.Major != ErrNone:
		// The printer answers but still reports an error the command did
		// not clear (a cleaning overdue, an open cover).
		return &drivers.Error{Op: op, Code: CodeOf(inf.Major), Feed: feed, Err: &PrinterError{Major: inf.Major, Minor: inf.Minor}}
	}
	return &drivers.Error{Op: op, Code: codeFor(err), Feed: feed, Err: err}
}

// poll runs REQ,INF every PollInterval until done says so, returns an
// error, or limit passes. A failed query (a dropped link, a garbled reply)
// resets the link and polling goes on.
func (p *Printer) poll(ctx context.Context, limit time.Duration, done func(Inf) (bool, error)) (Inf, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	var seen Inf
	for {
		reply, err := p.exchange(ctx, CommandINF())
		var inf Inf
		if err == nil {
			inf, err = ParseINF(reply)
		}
		if err == nil {
			seen = inf
			last = nil
			ok, derr := done(inf)
			if ok || derr != nil {
				return inf, derr
			}
		} else {
			last = err
			p.opts.Logger.Debug("magicard: status query failed while waiting", "err", err)
			if ctx.Err() == nil {
				_ = p.resetLink(ctx)
			}
		}
		t := time.NewTimer(p.opts.PollInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if last == nil {
				return seen, fmt.Errorf("magicard: printer did not finish within %v: %w", limit, drivers.Timeout)
			}
			return seen, fmt.Errorf("magicard: printer did not finish within %v (last query: %v): %w", limit, last, drivers.Timeout)
		}
	}
}

// Clean runs the cleaning cycle (V's REQ,CLN) and waits until the
// cleaning counter (TCN; REQ,INF field 12) moves.
func (p *Printer) Clean(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	before, err := p.inf(ctx, "clean")
	if err != nil {
		return err
	}
	return p.maintenance(ctx, "clean", CommandCLN(), drivers.BeforeFeed, p.opts.PrintTimeout, func(inf Inf) bool { return inf.Cleans > before.Cleans })
}

// resetWait bounds the wait for RST or EJT to take effect: the printer
// must answer, and clear its error, within 4 x ReplyTimeout.
func resetWait(o Options) time.Duration { return 4 * o.ReplyTimeout }

// Reset soft-resets the printer (RST) and waits until it answers with no
// error; an error RST does not clear (cleaning overdue) is returned with
// its code. A card left inside goes where the printer puts it (on the
// simulator: the reject tray).
func (p *Printer) Reset(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maintenance(ctx, "reset", CommandRST(), drivers.FeedUnknown, resetWait(p.opts), func(inf Inf) bool { return inf.Major == ErrNone })
}

// Eject ejects the card in the printer (EJT) into the output hopper and
// waits until the printer answers. Use it after a failure only when the
// card is known good; Reset is the way to discard a spoiled card.
func (p *Printer) Eject(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maintenance(ctx, "eject", CommandEJT(), drivers.FeedUnknown, resetWait(p.opts), func(Inf) bool { return true })
}

// Raw sends one command of the text protocol (e.g. "REQ,STA,TCQ," or
// "REQ,INF"), framed as a query (9 x 0x05, 0x01, the text, 0x1C 0x03),
// and returns the reply between 0x01 and 0x03. err is set only when no
// reply could be read, or cmd is not printable ASCII.
func (p *Printer) Raw(ctx context.Context, cmd string) (string, error) {
	if cmd == "" {
		return "", fmt.Errorf("magicard: raw command is empty")
	}
	for i := 0; i < len(cmd); i++ {
		if cmd[i] < 0x20 || cmd[i] > 0x7e {
			return "", fmt.Errorf("magicard: raw command byte %d is 0x%02x: want printable ASCII", i, cmd[i])
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	reply, err := p.exchange(ctx, command(cmd))
	if err != nil {
		if ctx.Err() == nil {
			_ = p.resetLink(ctx)
		}
		return "", &drivers.Error{Op: "raw", Code: codeFor(err), Feed: drivers.FeedUnknown, Err: err}
	}
	return string(bytes.Trim(reply, "\x01\x03")), nil
}

// layoutFor returns the line layout: the option, else the model's, else
// the USB product id's.
func (p *Printer) layoutFor(model string) (Layout, error) {
	if p.opts.Layout != "" {
		return p.opts.Layout, nil
	}
	if p.layout != "" {
		return p.layout, nil
	}
	l, err := LayoutForModel(model)
	if err != nil {
		// A USB product id the notes list decides when the model name
		// does not (an Optima model's name is refused all the same).
		if u, ok := p.link.(usbIDer); ok && !strings.Contains(err.Error(), "Optima") {
			if v, pid := u.USBIDs(); v == VendorID && LayoutForProduct(pid) != "" {
				p.layout = LayoutForProduct(pid)
				return p.layout, nil
			}
		}
		return "", err
	}
	p.layout = l
	return l, nil
}

// Print prints one card: it reads REQ,INF (the card counter, the error
// fields, the film left, the model, head type and position), refuses the
// card before sending anything when the printer reports an error or an
// empty film, sends the whole job in one write (front page and, for a
// two-sided card, back page), and polls REQ,INF until the card counter
// moves by one.
//
// Failures before the job is written are BeforeFeed. A write that fails
// part-way is FeedUnknown. Once the job is sent: the counter moving means
// the card printed, even if the link dropped in between; an error the
// printer reports is classified by its number (feedOf: an empty hopper,
// cleaning overdue or an invalid job BeforeFeed; a jam or a magnetic error
// AfterFeed; anything else FeedUnknown); no answer and no counter move
// within PrintTimeout is FeedUnknown with code Timeout. The printer is
// left as it is: Reset puts a card left inside in the reject tray.
func (p *Printer) Print(ctx context.Context, cd card.Card) error {
	fail := func(code drivers.Code, feed drivers.Feed, err error) error {
		return &drivers.Error{Op: "print", Code: code, Feed: feed, Err: err}
	}
	if err := p.opts.Validate(); err != nil {
		return badCard(err)
	}
	ribbon, err := ribbonFor(cd, p.opts.Ribbon)
	if err != nil {
		return badCard(err)
	}
	if _, err := magTokens(cd.Mag); err != nil {
		return badCard(err)
	}
	if cd.Chip != nil {
		return badCard(errors.New("magicard: the card has a chip to encode; this driver has no chip encoder"))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printing.Store(true)
	defer p.printing.Store(false)
	if l, ok := p.link.(drivers.Labeler); ok {
		l.SetLabel(cd.Label)
	}
	base, err := p.inf(ctx, "print")
	if err != nil {
		return err
	}
	if base.Major != ErrNone {
		return fail(CodeOf(base.Major), drivers.BeforeFeed, &PrinterError{Major: base.Major, Minor: base.Minor})
	}
	if base.RibbonLeft() == 0 {
		return fail(drivers.RibbonOut, drivers.BeforeFeed, fmt.Errorf("magicard: the film has no prints left: %w", drivers.RibbonOut))
	}
	l, err := p.layoutFor(base.Model)
	if err != nil {
		return badCard(err)
	}
	head := base.HeadType
	if l == KEE || head == "" {
		head = ""
	}
	firmware := ""
	if l == KGE {
		firmware = base.Firmware
	}
	stream, err := encode(cd, p.opts.job(l, head, base.HeadPosition, firmware, ribbon))
	if err != nil {
		return badCard(err)
	}
	start := time.Now()
	if err := p.write(ctx, stream); err != nil {
		if ctx.Err() == nil {
			_ = p.resetLink(ctx)
		}
		p.opts.Logger.Debug("magicard: job write failed", "label", cd.Label, "err", err)
		return fail(codeFor(err), drivers.FeedUnknown, err)
	}
	_, err = p.poll(ctx, p.opts.PrintTimeout, func(inf Inf) (bool, error) {
		if inf.Printed > base.Printed {
			return true, nil
		}
		if inf.Major != ErrNone {
			return false, &PrinterError{Major: inf.Major, Minor: inf.Minor}
		}
		return false, nil
	})
	var pe *PrinterError
	switch {
	case err == nil:
		p.opts.Logger.Debug("magicard: card printed", "label", cd.Label, "layout", string(l), "bytes", len(stream), "took", time.Since(start))
		return nil
	case errors.As(err, &pe):
		feed := feedOf(pe.Major)
		p.opts.Logger.Debug("magicard: card failed", "label", cd.Label, "major", pe.Major, "feed", feed)
		if feed == drivers.FeedUnknown {
			err = fmt.Errorf("%w (the text protocol cannot tell whether a card was fed: hold the job and check the printer)", err)
		}
		return fail(CodeOf(pe.Major), feed, err)
	default:
		return fail(codeFor(err), drivers.FeedUnknown, fmt.Errorf("%w (the card counter did not move and the text protocol cannot tell whether a card was fed: hold the job and check the printer)", err))
	}
}
