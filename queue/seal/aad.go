package seal

import (
	"strconv"

	"github.com/cityid/printerd/queue/internal/lenprefix"
)

// AADLabel is the first field of the associated data: it names the
// contract version the bytes belong to.
const AADLabel = "printerd-job-v2"

// ClearFields are the fields of a v2 job body that travel in the clear and
// are bound into the sealed part. For kind issue the three Reprint fields
// are empty. The integrator fills them from the job body exactly as
// received (after the body's own validation).
type ClearFields struct {
	V                  int    // contract version, 2
	JobID              string // job_id
	Site               string // site
	Pool               string // pool
	Kind               string // kind: issue or reprint
	Template           string // template
	CardNumber         string // card.number
	CardIssue          int    // card.issue
	Issued             string // card.issued, YYYY-MM-DD
	Expires            string // card.expires, YYYY-MM-DD
	ReprintOfJob       string // reprint.of_job, "" for kind issue
	ReprintReason      string // reprint.reason, "" for kind issue
	ReprintRequestedBy string // reprint.requested_by, "" for kind issue
}

// AAD returns the associated data that binds a sealed part to its job:
// AADLabel and then the 13 clear fields in the order of the ClearFields
// struct, each as a 2-byte big-endian length and its UTF-8 bytes. V and
// CardIssue are written as decimal ASCII digits without sign or leading
// zeros ("2", "1", "12"). An absent reprint field is the empty string
// (length 0). A field is not checked beyond what the encoding needs (at
// most 65535 bytes, V and CardIssue not negative): the job body's own
// validation owns the rules.
func (c ClearFields) AAD() ([]byte, error) {
	if c.V < 0 {
		return nil, &FormatError{"v", "must not be negative"}
	}
	if c.CardIssue < 0 {
		return nil, &FormatError{"card.issue", "must not be negative"}
	}
	fields := []struct{ name, value string }{
		{"label", AADLabel},
		{"v", strconv.Itoa(c.V)},
		{"job_id", c.JobID},
		{"site", c.Site},
		{"pool", c.Pool},
		{"kind", c.Kind},
		{"template", c.Template},
		{"card.number", c.CardNumber},
		{"card.issue", strconv.Itoa(c.CardIssue)},
		{"card.issued", c.Issued},
		{"card.expires", c.Expires},
		{"reprint.of_job", c.ReprintOfJob},
		{"reprint.reason", c.ReprintReason},
		{"reprint.requested_by", c.ReprintRequestedBy},
	}
	n := 0
	for _, f := range fields {
		n += 2 + len(f.value)
	}
	b := make([]byte, 0, n)
	for _, f := range fields {
		var err error
		if b, err = lenprefix.AppendString(b, f.value); err != nil {
			return nil, &FormatError{f.name, "must be at most 65535 bytes"}
		}
	}
	return b, nil
}
