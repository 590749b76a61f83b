package job

import (
	"strings"
	"time"
	"unicode"
)

// blankFillers print as nothing although unicode.IsPrint calls them
// printable letters or symbols: the Hangul fillers and the Braille blank.
// A name made of them prints a blank card; inside a name they print a gap
// that is not a space.
const blankFillers = "\u115f\u1160\u3164\uffa0\u2800"

// invisible reports whether r prints no ink: a space, a default-ignorable
// code point (variation selectors, the combining grapheme joiner, ...), or
// a blank filler.
func invisible(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Variation_Selector, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Cf, r) || strings.ContainsRune(blankFillers, r)
}

// checkVisible applies the rules that keep a printable name from printing
// blank or wrong: no U+FFFD (damaged text; encoding/json also decodes a
// lone surrogate escape to it), no blank filler, and at least one
// character that prints ink. It returns the broken rule, or "".
func checkVisible(s string) string {
	if strings.ContainsRune(s, unicode.ReplacementChar) {
		return RuleReplacement
	}
	if strings.ContainsAny(s, blankFillers) {
		return RuleVisible
	}
	if strings.IndexFunc(s, func(r rune) bool { return !invisible(r) }) < 0 {
		return RuleVisible
	}
	return ""
}

// minDate is the earliest date the contract accepts: no one alive was born
// before it, and year 0 or 1 is a default value, not a date.
var minDate = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// minIssued is the earliest issue date: the signed code's dates are CWT
// NumericDates, which count from 1970.
var minIssued = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// issuedAhead is how far in the future card.issued may be (an enrollment
// system may date a card for its collection).
const issuedAhead = 31 * 24 * time.Hour

// checkDates applies the clock-free rules of the clear dates: the issue
// date from minIssued on, the expiry not before it. (The birth date's
// rules are checkPerson's: in a sealed job it is known only once opened.)
func checkDates(issued, expires time.Time) error {
	switch {
	case issued.Before(minIssued):
		return &FieldError{"card.issued", RuleIssuedRange}
	case expires.Before(issued):
		return &FieldError{"card.expires", RuleExpires}
	}
	return nil
}

// checkClock applies the rules that need the clock now, once the dates
// parsed: issued at most issuedAhead after today (UTC+14, where the date
// is latest), and not expired already (before today in UTC-12, where the
// date is earliest), so no card leaves the printer expired everywhere.
func (c *Card) checkClock(now time.Time) error {
	issued, _ := parseDate(c.Issued)
	expires, _ := parseDate(c.Expires)
	switch {
	case issued.After(latestToday(now).Add(issuedAhead)):
		return &FieldError{"card.issued", RuleIssuedFuture}
	case expires.Before(earliestToday(now)):
		return &FieldError{"card.expires", RuleExpired}
	}
	return nil
}

// earliestToday is today's date (as UTC midnight) in the latest time zone
// on Earth, UTC-12.
func earliestToday(now time.Time) time.Time {
	t := now.UTC().Add(-12 * time.Hour)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
