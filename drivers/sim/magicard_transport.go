package sim

import (
	"fmt"
	"net/url"

	"github.com/cityid/printerd/drivers"
)

// Connect opens an in-process link to the Magicard and starts serving it
// (as Device.Connect). Close the link to stop.
func (d *Magicard) Connect() *Link {
	l := &Link{mc: d, peer: d}
	l.start()
	return l
}

// MagicardOptionsFromURI reads a simulated Magicard's options from
// sim://<name>?lang=magicard&layout=kee|kge&head=P and the parameters
// OptionsFromURI reads (out, speed, keep, faults, ribbon).
func MagicardOptionsFromURI(u *url.URL) (MagicardOptions, error) {
	o, err := OptionsFromURI(u)
	if err != nil {
		return MagicardOptions{}, err
	}
	mo := MagicardOptions{Options: o, Layout: u.Query().Get("layout")}
	mo.Rotation = 0 // not used by a Magicard
	if mo.Layout != "" && mo.Layout != MagicardKEE && mo.Layout != MagicardKGE {
		return mo, fmt.Errorf("sim: URI parameter layout=%q: want kee or kge", mo.Layout)
	}
	if v := u.Query().Get("head"); v != "" {
		var p int
		if _, err := fmt.Sscanf(v, "%d", &p); err != nil || p < 35 || p > 65 {
			return mo, fmt.Errorf("sim: URI parameter head=%q: want a head position 35..65", v)
		}
		mo.HeadPosition = p
	}
	return mo, nil
}

// magicardTransport opens sim://<name>?lang=magicard: the Magicard of that
// name in r, made on the first open.
func (r *Registry) magicardTransport(u *url.URL) (drivers.LinkCloser, error) {
	o, err := MagicardOptionsFromURI(u)
	if err != nil {
		return nil, &drivers.Error{Op: "open", Code: drivers.BadConfig, Feed: drivers.BeforeFeed, Err: err}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[o.Name] != nil {
		return nil, &drivers.Error{Op: "open", Code: drivers.BadConfig, Feed: drivers.BeforeFeed,
			Err: fmt.Errorf("sim: device %q is an Evolis printer: open it without lang=magicard", o.Name)}
	}
	d := r.mc[o.Name]
	if d == nil {
		if o.Serial == "" {
			o.Serial = processSerial(o.Options)
		}
		d = NewMagicard(o)
		if r.mc == nil {
			r.mc = map[string]*Magicard{}
		}
		r.mc[o.Name] = d
	}
	return d.Connect(), nil
}

// LookupMagicard returns the Magicard behind sim://<name>?lang=magicard,
// or nil.
func (r *Registry) LookupMagicard(name string) *Magicard {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mc[name]
}
