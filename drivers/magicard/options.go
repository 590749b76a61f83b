package magicard

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
)

// Options tune a Printer. The zero value is a working configuration that
// learns the line layout, head type, head position and firmware from the
// printer (REQ,INF).
type Options struct {
	// Layout is the line format. Empty means: from the model name the
	// printer reports (Rio 2e, Tango, XXL, Avalon: KEE; Enduro, Rio Pro,
	// Pronto, MC200, Alto, Opera, Tempo: KGE); an unknown model is refused
	// with a message asking for layout=kee or layout=kge.
	Layout Layout
	// HeadPosition is the printer's head-position setting P (35..65) that
	// places the image on the printhead line. Zero means: the printer's
	// (REQ,INF field 16), else 50.
	HeadPosition int
	// Flip turns every printed page 180 degrees from the family default
	// (KEE: first line at the card's left edge; KGE: at its right edge),
	// for a printer whose cards come out upside down.
	Flip bool
	// Coercivity of the magnetic stripe: "high" or "low". Empty means high.
	Coercivity string
	// Ribbon is the ribbon loaded. A card asking for another ribbon is
	// refused before it is fed. Empty means: take the card's ribbon, or
	// ymcko if the card has none.
	Ribbon card.Ribbon
	// ReplyTimeout bounds the wait for a reply to a query. Zero means 5 s.
	ReplyTimeout time.Duration
	// PrintTimeout bounds how long Print waits, after sending a job, for
	// the card counter to move. Zero means 120 s.
	PrintTimeout time.Duration
	// PollInterval is the pause between status queries while a card
	// prints. Zero means 500 ms.
	PollInterval time.Duration
	// MinRate is the slowest link speed, in bytes a second, that write
	// deadlines allow for. Zero means 960 (9600 baud, 8N1).
	MinRate int
	// MaxResets is how many times a query is retried after a link reset.
	// Zero means 2; negative means none.
	MaxResets int
	// Now gives the time written in a job's TDT token. Nil means time.Now.
	Now func() time.Time
	// Logger receives debug records (commands by name, never payloads or
	// track data). Nil means slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Coercivity == "" {
		o.Coercivity = "high"
	}
	if o.ReplyTimeout <= 0 {
		o.ReplyTimeout = 5 * time.Second
	}
	if o.PrintTimeout <= 0 {
		o.PrintTimeout = 120 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 500 * time.Millisecond
	}
	if o.MinRate <= 0 {
		o.MinRate = 960
	}
	if o.MaxResets == 0 {
		o.MaxResets = 2
	} else if o.MaxResets < 0 {
		o.MaxResets = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports the first option out of range.
func (o Options) Validate() error {
	if o.Layout != "" {
		if err := o.Layout.Valid(); err != nil {
			return err
		}
	}
	if o.HeadPosition != 0 && (o.HeadPosition < 35 || o.HeadPosition > 65) {
		return fmt.Errorf("magicard: option head position %d: want 35..65 (0: the printer's)", o.HeadPosition)
	}
	if o.Coercivity != "" && o.Coercivity != "high" && o.Coercivity != "low" {
		return fmt.Errorf("magicard: option coercivity %q: want high or low", o.Coercivity)
	}
	if o.Ribbon != "" {
		if err := o.Ribbon.Valid(); err != nil {
			return fmt.Errorf("magicard: option ribbon: %w", err)
		}
	}
	return nil
}

// job fills the header fields of one card.
func (o Options) job(l Layout, head string, headPos int, firmware string, ribbon card.Ribbon) job {
	if head == "" {
		head = "KEE"
		if l == KGE {
			head = "KGE"
		}
	}
	if o.HeadPosition != 0 {
		headPos = o.HeadPosition
	}
	if headPos <= 0 {
		headPos = DefaultHead
	}
	coe := "H"
	if o.Coercivity == "low" {
		coe = "L"
	}
	return job{layout: l, head: head, headPos: headPos, firmware: firmware, ribbon: ribbon,
		when: o.Now(), coerc: coe, flip: (l == KGE) != o.Flip}
}

// OptionsFromParams reads driver options from printer URI query
// parameters: layout=kee|kge, head=35..65, flip=1, coercivity=high|low,
// ribbon=ymcko|ymckok|ko|k, timeout=5s, print-timeout=120s, poll=500ms,
// resets=N. Other parameters belong to other layers and are ignored here;
// the registry refuses those no layer declares (Params).
func OptionsFromParams(params url.Values) (Options, error) {
	var o Options
	o.Layout = Layout(params.Get("layout"))
	o.Coercivity = params.Get("coercivity")
	o.Ribbon = card.Ribbon(params.Get("ribbon"))
	if v := params.Get("flip"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("magicard: URI parameter flip=%q: want 1 or 0", v)
		}
		o.Flip = b
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"head", &o.HeadPosition}, {"resets", &o.MaxResets}} {
		if v := params.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return o, fmt.Errorf("magicard: URI parameter %s=%q: want an integer", p.name, v)
			}
			*p.dst = n
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Duration
	}{{"timeout", &o.ReplyTimeout}, {"print-timeout", &o.PrintTimeout}, {"poll", &o.PollInterval}} {
		if v := params.Get(p.name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return o, fmt.Errorf("magicard: URI parameter %s=%q: want a duration such as 5s", p.name, v)
			}
			*p.dst = d
		}
	}
	return o, o.Validate()
}

// Params are the URI parameters OptionsFromParams reads, for
// drivers.Registry.RegisterParams.
var Params = []string{"layout", "head", "flip", "coercivity", "ribbon", "timeout", "print-timeout", "poll", "resets"}

// Language is the registry entry for the Magicard text protocol: a Printer
// on link with options from the URI parameters (OptionsFromParams).
func Language(link drivers.Link, params url.Values) (drivers.Printer, error) {
	o, err := OptionsFromParams(params)
	if err != nil {
		return nil, err
	}
	return New(link, o), nil
}
