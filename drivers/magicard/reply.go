package magicard

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/cityid/printerd/drivers"
)

// maxReply bounds a reply: S reads replies into 256 bytes; a REQ,INF line
// of 35 fields fits well under this.
const maxReply = 1024

// ParseSTA reads the reply to REQ,STA,<key>: 0x01, the echo "STA,<key>"
// (optionally preceded by "REQ,"), an optional separator (',' ':' '=' or
// a space), the value, an optional ',' and 0x03. S reads the value as what
// follows a 7-character echo and ends 2 bytes before the end; the exact
// text is unknown, so the echo and separators are taken loosely but the
// key must match. The value must be printable ASCII.
func ParseSTA(reply []byte, key string) (string, error) {
	b, err := frame(reply)
	if err != nil {
		return "", err
	}
	s := string(b)
	s = strings.TrimPrefix(s, "REQ,")
	rest, ok := strings.CutPrefix(s, "STA,"+key)
	if !ok {
		return "", fmt.Errorf("magicard: STA reply does not echo STA,%s: %w", key, drivers.Protocol)
	}
	if rest != "" && strings.IndexByte(",:= ", rest[0]) >= 0 {
		rest = rest[1:]
	}
	rest = strings.TrimSuffix(rest, ",")
	return rest, nil
}

// frame checks 0x01 ... 0x03 and printable ASCII between them and returns
// what is between.
func frame(reply []byte) ([]byte, error) {
	if len(reply) > maxReply {
		return nil, fmt.Errorf("magicard: reply of %d bytes, at most %d expected: %w", len(reply), maxReply, drivers.Protocol)
	}
	if len(reply) < 2 || reply[0] != soh || reply[len(reply)-1] != etx {
		return nil, fmt.Errorf("magicard: reply does not run from 0x01 to 0x03: %w", drivers.Protocol)
	}
	b := reply[1 : len(reply)-1]
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			return nil, fmt.Errorf("magicard: reply byte %d is 0x%02x, want printable ASCII: %w", i+1, c, drivers.Protocol)
		}
	}
	return b, nil
}

// INF field indexes (V, REQ,INF).
const (
	infModelNo      = 0
	infModel        = 1
	infHeadType     = 2
	infSerial       = 3
	infFirmware     = 6
	infPrinted      = 9
	infCleans       = 12
	infSinceClean   = 14
	infHeadPosition = 16
	infMajor        = 19
	infMinor        = 20
	infFilmShots    = 22
	infShotsUsed    = 23
	infFilmType     = 24
	infMinFields    = infMinor + 1
)

// Inf is the reply to REQ,INF, the fields the driver uses. A number the
// printer left out reads -1.
type Inf struct {
	Model, HeadType, Serial, Firmware, FilmType string
	Printed, Cleans, SinceClean, HeadPosition   int
	Major, Minor                                int
	FilmShots, ShotsUsed                        int
	Fields                                      []string // every field as sent
}

// RibbonLeft is the number of prints left on the film, or -1.
func (i Inf) RibbonLeft() int {
	if i.FilmShots < 0 || i.ShotsUsed < 0 {
		return -1
	}
	return max(i.FilmShots-i.ShotsUsed, 0)
}

// ParseINF reads the reply to REQ,INF: one byte (0x01), "STA$$", then
// fields separated by ',' or ':' up to 0x03 (V). At least the fields up to
// the minor error (21) must be there, and the counters and errors that are
// present must be whole numbers.
func ParseINF(reply []byte) (Inf, error) {
	var inf Inf
	b, err := frame(reply)
	if err != nil {
		return inf, err
	}
	rest, ok := bytes.CutPrefix(b, []byte("STA$$"))
	if !ok {
		return inf, fmt.Errorf("magicard: INF reply does not start with STA$$: %w", drivers.Protocol)
	}
	f := splitAny(string(rest))
	if len(f) < infMinFields {
		return inf, fmt.Errorf("magicard: INF reply has %d fields, want at least %d: %w", len(f), infMinFields, drivers.Protocol)
	}
	inf.Fields = f
	get := func(i int) string {
		if i < len(f) {
			return strings.TrimSpace(f[i])
		}
		return ""
	}
	inf.Model, inf.HeadType, inf.Serial, inf.Firmware, inf.FilmType = get(infModel), get(infHeadType), get(infSerial), get(infFirmware), get(infFilmType)
	for _, n := range []struct {
		i        int
		dst      *int
		required bool
	}{
		{infPrinted, &inf.Printed, true}, {infCleans, &inf.Cleans, false}, {infSinceClean, &inf.SinceClean, false},
		{infHeadPosition, &inf.HeadPosition, false}, {infMajor, &inf.Major, true}, {infMinor, &inf.Minor, true},
		{infFilmShots, &inf.FilmShots, false}, {infShotsUsed, &inf.ShotsUsed, false},
	} {
		*n.dst = -1
		v := get(n.i)
		if v == "" && !n.required {
			continue
		}
		x, err := strconv.Atoi(v)
		if err != nil || x < 0 {
			return inf, fmt.Errorf("magicard: INF field %d is not a whole number: %w", n.i, drivers.Protocol)
		}
		*n.dst = x
	}
	return inf, nil
}

func splitAny(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ',' || s[i] == ':' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
