package drivers

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Link is the byte stream between a driver and a printer: serial port, USB
// bulk endpoints, TCP socket or an in-process pipe to drivers/sim. A driver
// is handed a Link; it does not own it and never closes it.
type Link interface {
	// Write sends all of p to the printer or returns an error.
	Write(ctx context.Context, p []byte) (int, error)
	// Read returns the next bytes the printer sends (on USB, one bulk IN
	// transfer). It blocks until at least one byte arrives, ctx is done or
	// the link fails; it never blocks past ctx's deadline.
	Read(ctx context.Context, p []byte) (int, error)
	// Reset recovers a link after the printer stopped answering or went
	// away: a USB soft reset or re-open after replug, a serial or TCP
	// re-open. It returns within ctx.
	Reset(ctx context.Context) error
}

// LinkCloser is a Link its opener owns and must close.
type LinkCloser interface {
	Link
	io.Closer
}

// Labeler is implemented by in-process links to a simulated printer: the
// driver passes the card's label (a job id) so that the simulator can name
// its output files. Real links do not implement it.
type Labeler interface {
	SetLabel(label string)
}

// Transport opens a link from a printer URI (the scheme selects the transport).
type Transport func(ctx context.Context, u *url.URL) (LinkCloser, error)

// Language makes a driver for a command language over a link. params are
// the URI's query parameters, for driver options.
type Language func(link Link, params url.Values) (Printer, error)

// Detector names the command language of the printer behind a link just
// opened, from the URI (usb://0c1f:1800) or what the link knows of the
// device (its USB ids, its IEEE 1284 device id), or returns "" when it
// cannot tell. It is asked only when the URI has no lang parameter.
type Detector func(ctx context.Context, u *url.URL, link Link) string

// Registry opens printers by URI. cmd/printerd fills it explicitly; names
// are unique.
type Registry struct {
	mu         sync.Mutex
	transports map[string]Transport
	languages  map[string]Language
	detectors  []Detector
	// params are the URI query parameters each layer reads, by owner:
	// a scheme, a language, or "" for every URI.
	params map[string][]string
}

// LangParam is the URI parameter that names a printer's command language;
// the registry reads it itself.
const LangParam = "lang"

// RegisterParams declares the URI query parameters owner reads: a transport
// scheme, a language name, or "" for parameters any printer URI may carry
// (read by the caller, such as pool= and name=). Open refuses a URI with a
// parameter no layer declared, naming the ones it knows, so that a
// misspelled parameter is never silently ignored.
func (r *Registry) RegisterParams(owner string, names ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.params == nil {
		r.params = map[string][]string{}
	}
	for _, n := range names {
		if n == "" || slices.Contains(r.params[owner], n) {
			return fmt.Errorf("drivers: URI parameter %q of %q registered twice or empty", n, owner)
		}
		r.params[owner] = append(r.params[owner], n)
	}
	return nil
}

// knownParams returns the parameters a URI with this scheme may carry when
// its language is lang ("" for any language the registry has), sorted.
// The caller holds r.mu.
func (r *Registry) knownParams(scheme, lang string) []string {
	known := []string{LangParam}
	known = append(known, r.params[""]...)
	known = append(known, r.params[scheme]...)
	if lang != "" {
		known = append(known, r.params[lang]...)
	} else {
		for name := range r.languages {
			known = append(known, r.params[name]...)
		}
	}
	slices.Sort(known)
	return slices.Compact(known)
}

// CheckURI checks a printer URI without opening it: the scheme and the
// language must be registered and every query parameter known to a layer
// that reads it. The error names the URI's parameter and lists the known
// ones.
func (r *Registry) CheckURI(uri string) error {
	u, err := ParseURI(uri)
	if err != nil {
		return err
	}
	_, err = r.check(u, u.Query().Get(LangParam))
	return err
}

// check is CheckURI on a parsed URI for language lang ("" when not known
// yet); it returns the transport.
func (r *Registry) check(u *url.URL, lang string) (Transport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.transports[u.Scheme]
	if !ok {
		return nil, fmt.Errorf("drivers: printer URI %s: unknown scheme %q (have %v)", u.Redacted(), u.Scheme, keys(r.transports))
	}
	if lang != "" {
		if _, ok := r.languages[lang]; !ok {
			return nil, fmt.Errorf("drivers: printer URI %s: unknown language %q (have %v)", u.Redacted(), lang, keys(r.languages))
		}
	}
	known := r.knownParams(u.Scheme, lang)
	q := u.Query()
	for _, name := range keys(q) {
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("drivers: printer URI %s: unknown parameter %q: known parameters are %s", u.Redacted(), name, strings.Join(known, ", "))
		}
		if len(q[name]) > 1 {
			return nil, fmt.Errorf("drivers: printer URI %s: parameter %q given %d times: give it once", u.Redacted(), name, len(q[name]))
		}
	}
	return t, nil
}

// RegisterDetector adds a Detector; detectors are asked in the order they
// were registered, and the first name wins.
func (r *Registry) RegisterDetector(d Detector) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.detectors = append(r.detectors, d)
	return nil
}

// RegisterTransport adds a transport for a URI scheme.
func (r *Registry) RegisterTransport(scheme string, t Transport) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.transports == nil {
		r.transports = map[string]Transport{}
	}
	if _, dup := r.transports[scheme]; dup {
		return fmt.Errorf("drivers: transport %q registered twice", scheme)
	}
	r.transports[scheme] = t
	return nil
}

// RegisterLanguage adds a printer command language, selected by the URI
// parameter lang; without it, by the detectors, else "evolis".
func (r *Registry) RegisterLanguage(name string, l Language) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.languages == nil {
		r.languages = map[string]Language{}
	}
	if _, dup := r.languages[name]; dup {
		return fmt.Errorf("drivers: language %q registered twice", name)
	}
	r.languages[name] = l
	return nil
}

// Opened is a printer opened from a URI, with the link it owns.
type Opened struct {
	Printer
	URI  *url.URL
	Link LinkCloser
}

// Close closes the link. It is safe to call twice.
func (o *Opened) Close() error {
	if o.Link == nil {
		return nil
	}
	err := o.Link.Close()
	o.Link = nil
	return err
}

// Open opens the printer at uri, e.g. serial:///dev/ttyUSB0?baud=115200,
// usb://auto, tcp://127.0.0.1:9100 or sim://front-desk?speed=0.
func (r *Registry) Open(ctx context.Context, uri string) (*Opened, error) {
	return r.OpenWrapped(ctx, uri, nil)
}

// OpenWrapped is Open with the link passed through wrap before the driver
// gets it, e.g. to record the exchange (drivers/playback.Record) for
// `printerd diag --record`. A nil wrap is Open. Opened.Link stays the
// transport's link, which Close closes.
func (r *Registry) OpenWrapped(ctx context.Context, uri string, wrap func(Link) Link) (*Opened, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	langName := u.Query().Get(LangParam)
	t, err := r.check(u, langName)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	detectors := append([]Detector(nil), r.detectors...)
	r.mu.Unlock()
	link, err := t(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("drivers: open %s: %w", uri, err)
	}
	for _, d := range detectors {
		if langName != "" {
			break
		}
		langName = d(ctx, u, link)
	}
	if langName == "" {
		langName = "evolis"
	}
	if _, err := r.check(u, langName); err != nil {
		link.Close() // a parameter of another language than the one detected
		return nil, err
	}
	r.mu.Lock()
	l := r.languages[langName]
	r.mu.Unlock()
	var dl Link = link
	if wrap != nil {
		dl = wrap(link)
	}
	p, err := l(dl, u.Query())
	if err != nil {
		link.Close()
		return nil, fmt.Errorf("drivers: open %s: %w", uri, err)
	}
	return &Opened{Printer: p, URI: u, Link: link}, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ParseURI parses a printer URI. An authority that net/url refuses as a
// host and port, such as the vendor:product pair of usb://0f49:abcd (a port
// must be decimal), is kept in the opaque form usb:0f49:abcd, which the
// transports accept as well.
func ParseURI(uri string) (*url.URL, error) {
	u, err := url.Parse(uri)
	if err == nil {
		return u, nil
	}
	if scheme, rest, ok := strings.Cut(uri, "://"); ok && scheme != "" {
		if u2, err2 := url.Parse(scheme + ":" + rest); err2 == nil && u2.Scheme == scheme {
			return u2, nil
		}
	}
	return nil, fmt.Errorf("drivers: printer URI %q: %w", uri, err)
}
