package evolis

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/chip"
)

// Options tune a Printer. The zero value is a working configuration.
//
// Time bounds: a command that moves nothing (status, identity, counters,
// parameters) waits ReplyTimeout for its reply; when none comes, or the link
// fails or sends garbage, the driver recovers (a link reset bounded by
// ReplyTimeout, then a soft reset Srs bounded by 2 x ReplyTimeout) and
// retries, at most MaxResets times. Such a command therefore fails within
// (MaxResets+1) x (write + ReplyTimeout) + MaxResets x 3 x ReplyTimeout:
// 45 s with the defaults (plus the write of a few bytes). A command that
// moves a card or prints a panel waits MotionTimeout and is never retried:
// the card fails, the driver recovers once, and the error says whether the
// card had been fed. Writes are bounded by ReplyTimeout plus the payload at
// MinRate.
type Options struct {
	// ReplyTimeout bounds the wait for a reply to a command that moves
	// nothing. Zero means 5 s.
	ReplyTimeout time.Duration
	// MotionTimeout bounds the wait for a reply to a command that feeds,
	// prints, encodes, cleans or resets (Db, Dbc, Smw, Se, Scp, Srs). Zero
	// means 60 s, above the time a real printer takes to print a panel.
	MotionTimeout time.Duration
	// MinRate is the slowest link speed, in bytes a second, that write
	// deadlines allow for. Zero means 960 (9600 baud, 8N1).
	MinRate int
	// Quiet is how long after the last byte an unterminated reply (no CR
	// or NUL at its end) is taken as complete. Zero means 50 ms.
	Quiet time.Duration
	// Rotation turns the landscape design into print order: 270 (the Perl
	// driver's pnmflip -rotate270) or 90. Zero means 270.
	Rotation int
	// Levels is the number of levels for Y, M and C: 32, 64 or 128. Zero
	// means 32.
	Levels int
	// Compress sends panels with Dbc (compressed) instead of Db.
	Compress bool
	// Padding is the number of NUL bytes sent after the last command of a
	// card. Zero means 64, as the Perl driver sends; negative means none.
	Padding int
	// MaxResets is how many times a command that moves nothing is retried
	// after a link reset. Zero means 2; negative means none.
	MaxResets int
	// Ribbon is the ribbon loaded in the printer. A card asking for another
	// ribbon is refused before it is fed. Empty means: take the card's
	// ribbon, or ymcko if the card has none.
	Ribbon card.Ribbon
	// Encoder writes the chip of a card that has one (card.Card.Chip),
	// with the card at the encoder station. Nil means the printer has no
	// chip encoder: a chip card is refused before it is fed.
	Encoder chip.Encoder
	// Reader names the PC/SC reader of the printer's encoder (URI
	// parameter reader=); "" lets the encoder pick the only reader there
	// is.
	Reader string
	// Logger receives debug records of commands (names only, never
	// payloads) and resets. Nil means slog.Default().
	Logger *slog.Logger
}

// withDefaults returns o with zero values replaced by defaults.
func (o Options) withDefaults() Options {
	if o.ReplyTimeout <= 0 {
		o.ReplyTimeout = 5 * time.Second
	}
	if o.MotionTimeout <= 0 {
		o.MotionTimeout = 60 * time.Second
	}
	if o.MinRate <= 0 {
		o.MinRate = 960
	}
	if o.Quiet <= 0 {
		o.Quiet = 50 * time.Millisecond
	}
	if o.Rotation == 0 {
		o.Rotation = 270
	}
	if o.Levels == 0 {
		o.Levels = 32
	}
	if o.Padding == 0 {
		o.Padding = 64
	} else if o.Padding < 0 {
		o.Padding = 0
	}
	if o.MaxResets == 0 {
		o.MaxResets = 2
	} else if o.MaxResets < 0 {
		o.MaxResets = 0
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports the first option out of range.
func (o Options) Validate() error {
	d := o.withDefaults()
	if err := CheckRotation(d.Rotation); err != nil {
		return err
	}
	if err := CheckLevels(d.Levels); err != nil {
		return err
	}
	if o.Ribbon != "" {
		if err := o.Ribbon.Valid(); err != nil {
			return fmt.Errorf("evolis: option ribbon: %w", err)
		}
	}
	return nil
}

// OptionsFromParams reads driver options from printer URI query parameters:
// compress=1, rotate=90|270, levels=32|64|128, ribbon=ymcko|ymckok|ko|k,
// timeout=5s (ReplyTimeout), motion-timeout=60s, padding=N, resets=N,
// reader=NAME (the encoder's PC/SC reader).
// Other parameters belong to other layers and are ignored here; the
// registry refuses those no layer declares (Params).
func OptionsFromParams(params url.Values) (Options, error) {
	var o Options
	var err error
	if v := params.Get("compress"); v != "" {
		if o.Compress, err = strconv.ParseBool(v); err != nil {
			return o, fmt.Errorf("evolis: URI parameter compress=%q: want 1 or 0", v)
		}
	}
	ints := []struct {
		name string
		dst  *int
	}{{"rotate", &o.Rotation}, {"levels", &o.Levels}, {"padding", &o.Padding}, {"resets", &o.MaxResets}}
	for _, p := range ints {
		if v := params.Get(p.name); v != "" {
			if *p.dst, err = strconv.Atoi(v); err != nil {
				return o, fmt.Errorf("evolis: URI parameter %s=%q: want an integer", p.name, v)
			}
		}
	}
	durs := []struct {
		name string
		dst  *time.Duration
	}{{"timeout", &o.ReplyTimeout}, {"motion-timeout", &o.MotionTimeout}}
	for _, p := range durs {
		if v := params.Get(p.name); v != "" {
			if *p.dst, err = time.ParseDuration(v); err != nil {
				return o, fmt.Errorf("evolis: URI parameter %s=%q: want a duration such as 5s", p.name, v)
			}
		}
	}
	o.Ribbon = card.Ribbon(params.Get("ribbon"))
	o.Reader = params.Get("reader")
	return o, o.Validate()
}

// Params are the URI parameters OptionsFromParams reads, for
// drivers.Registry.RegisterParams.
var Params = []string{"compress", "rotate", "levels", "padding", "resets", "timeout", "motion-timeout", "ribbon", "reader"}

// Language is the registry entry for the Evolis language: it makes a
// Printer on link with options from the URI parameters (OptionsFromParams).
func Language(link drivers.Link, params url.Values) (drivers.Printer, error) {
	o, err := OptionsFromParams(params)
	if err != nil {
		return nil, err
	}
	return New(link, o), nil
}

// LanguageWith is Language with a chip encoder: the registry entry of a
// host that reaches its printers' encoder stations (drivers/pcsc).
func LanguageWith(enc chip.Encoder) drivers.Language {
	return func(link drivers.Link, params url.Values) (drivers.Printer, error) {
		o, err := OptionsFromParams(params)
		if err != nil {
			return nil, err
		}
		o.Encoder = enc
		return New(link, o), nil
	}
}
