package evolis

import "fmt"

// Track limits from ISO/IEC 7811: track 1 carries up to 79 characters of
// the 6-bit alphanumeric set, track 2 up to 40 and track 3 up to 107 of the
// 4-bit numeric set.
var trackMax = [3]int{79, 40, 107}

// ValidateTrack checks data for magnetic track n (1, 2 or 3) against ISO/IEC
// 7811. Track 1 takes the characters 0x20-0x5F (space, digits, upper-case
// letters and punctuation) except the sentinels '%' and '?'; tracks 2 and 3
// take digits and the field separator '='. The printer adds the sentinels
// and the check character itself. The error names the track, the position
// and the rule, never the data.
func ValidateTrack(n int, data string) error {
	if n < 1 || n > 3 {
		return fmt.Errorf("evolis: magnetic track %d: want 1, 2 or 3", n)
	}
	if len(data) > trackMax[n-1] {
		return fmt.Errorf("evolis: magnetic track %d: %d characters, at most %d allowed", n, len(data), trackMax[n-1])
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		if n == 1 {
			if c < 0x20 || c > 0x5F {
				return fmt.Errorf("evolis: magnetic track 1: character %d is outside the ISO 7811 6-bit set (space to '_', upper case only)", i+1)
			}
			if c == '%' || c == '?' {
				return fmt.Errorf("evolis: magnetic track 1: character %d is a sentinel ('%%' or '?'), which the printer adds itself", i+1)
			}
			continue
		}
		if (c < '0' || c > '9') && c != '=' {
			return fmt.Errorf("evolis: magnetic track %d: character %d is not a digit or the separator '='", n, i+1)
		}
	}
	return nil
}
