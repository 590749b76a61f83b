package magicard

import "fmt"

// trackMax is Gutenprint's limit on each track, sentinels included.
var trackMax = [3]int{78, 39, 106}

// ValidateTrack checks data for magnetic track n (1, 2 or 3), given
// without sentinels as drivers.Card carries it: track 1 takes 0x20-0x5F,
// tracks 2 and 3 take 0x30-0x3F (digits and = : ; < > are in that range),
// never a sentinel ('%', ';', '?'), and never ',' (the header's field
// separator, which the protocol cannot escape). The error names the track,
// the position and the rule, never the data.
func ValidateTrack(n int, data string) error {
	if n < 1 || n > 3 {
		return fmt.Errorf("magicard: magnetic track %d: want 1, 2 or 3", n)
	}
	if len(data)+2 > trackMax[n-1] {
		return fmt.Errorf("magicard: magnetic track %d: %d characters, at most %d allowed (with the two sentinels, %d)", n, len(data), trackMax[n-1]-2, trackMax[n-1])
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == ',':
			return fmt.Errorf("magicard: magnetic track %d: character %d is ',', the header's field separator, which the protocol cannot carry", n, i+1)
		case c == '%' || c == '?' || c == ';':
			return fmt.Errorf("magicard: magnetic track %d: character %d is a sentinel ('%%', ';' or '?'), which the driver adds itself", n, i+1)
		case n == 1 && (c < 0x20 || c > 0x5F):
			return fmt.Errorf("magicard: magnetic track 1: character %d is outside 0x20-0x5F (space to '_', upper case only)", i+1)
		case n > 1 && (c < 0x30 || c > 0x3F):
			return fmt.Errorf("magicard: magnetic track %d: character %d is outside 0x30-0x3F (digits and = : < >)", n, i+1)
		}
	}
	return nil
}

// magTokens validates the tracks and returns each with its sentinels ('%'
// or ';' at the start, '?' at the end), or "" for a track left unwritten.
// It returns nil when no track is written.
func magTokens(tracks [3]string) ([]string, error) {
	var out []string
	any := false
	for i, t := range tracks {
		if t == "" {
			out = append(out, "")
			continue
		}
		if err := ValidateTrack(i+1, t); err != nil {
			return nil, err
		}
		start := ";"
		if i == 0 {
			start = "%"
		}
		out = append(out, start+t+"?")
		any = true
	}
	if !any {
		return nil, nil
	}
	return out, nil
}
