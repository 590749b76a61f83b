package job

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Job and Card print, GoString and log without personal data, whatever the
// fmt verb: Format takes precedence over the default struct printing, so
// %v, %+v, %#v, %s, %d and %x all show the same safe summary.
var (
	_ fmt.Stringer   = Job{}
	_ fmt.GoStringer = Job{}
	_ fmt.Formatter  = Job{}
	_ slog.LogValuer = Job{}
	_ fmt.Stringer   = Card{}
	_ fmt.GoStringer = Card{}
	_ fmt.Formatter  = Card{}
	_ slog.LogValuer = Card{}
)

// Shown fields pass their format rule first: a job that was never validated
// could carry anything in its job id or card number, so a field that breaks
// its rule shows as "?" rather than as its value.
func safeID(s string) string {
	if ValidID(s) {
		return s
	}
	return "?"
}

func safeKind(s string) string {
	if s == KindIssue || s == KindReprint {
		return s
	}
	return "?"
}

func safeNumber(s string) string {
	if isCardNumber(s) {
		return s
	}
	return "?"
}

func safeTemplate(s string) string {
	if isTemplate(s) {
		return s
	}
	return "?"
}

// String returns "job <id> <kind> card <number> issue <n> template <t>".
// It never includes the name, birth date, gender or photo.
func (j Job) String() string {
	return "job " + safeID(j.ID) + " " + safeKind(j.Kind) + " " + j.Card.String() + " template " + safeTemplate(j.Template)
}

// GoString is String as Go syntax, for %#v; personal fields are left out.
func (j Job) GoString() string {
	return fmt.Sprintf("job.Job{V:%d, ID:%q, Kind:%q, Card:%s, Template:%q /* personal data not shown */}",
		j.V, safeID(j.ID), safeKind(j.Kind), j.Card.GoString(), safeTemplate(j.Template))
}

// Format implements fmt.Formatter: %#v prints GoString, every other verb
// prints String.
func (j Job) Format(f fmt.State, verb rune) { format(f, verb, j.String(), j.GoString()) }

// LogValue implements slog.LogValuer: a group of job_id, kind,
// card_number, issue and template.
func (j Job) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("job_id", safeID(j.ID)),
		slog.String("kind", safeKind(j.Kind)),
		slog.String("card_number", safeNumber(j.Card.Number)),
		slog.Int("issue", j.Card.Issue),
		slog.String("template", safeTemplate(j.Template)),
	)
}

// String returns "card <number> issue <n>": no personal data.
func (c Card) String() string {
	return "card " + safeNumber(c.Number) + " issue " + strconv.Itoa(c.Issue)
}

// GoString is String as Go syntax, for %#v; personal fields are left out.
func (c Card) GoString() string {
	return fmt.Sprintf("job.Card{Number:%q, Issue:%d /* personal data not shown */}", safeNumber(c.Number), c.Issue)
}

// Format implements fmt.Formatter: %#v prints GoString, every other verb
// prints String.
func (c Card) Format(f fmt.State, verb rune) { format(f, verb, c.String(), c.GoString()) }

// LogValue implements slog.LogValuer: card_number and issue only.
func (c Card) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("card_number", safeNumber(c.Number)),
		slog.Int("issue", c.Issue),
	)
}

func format(f fmt.State, verb rune, s, gs string) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, gs)
		return
	}
	io.WriteString(f, s)
}
