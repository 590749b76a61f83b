package sample

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	isample "github.com/cityid/printerd/internal/sample"
	"github.com/cityid/printerd/queue/epoch"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/seal"
)

// Template is the card template every sample job asks for.
const Template = "municipal-id"

// RequestedBy is the clerk id sample reprints carry.
const RequestedBy = "clerk-sample-0042"

// namespace seeds the name-based (version 5) UUIDs of sample jobs.
var namespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://cityid.invalid/printerd/sample"))

// Person is one invented card holder (internal/sample.Person).
type Person = isample.Person

// People is the fixed cast of invented card holders (internal/sample.People).
// Jobs cycles through it.
var People = isample.People

// Jobs returns n valid issue jobs dated today: unique version-5 UUID job ids
// (derived from the index and today's date), unique card numbers
// SAMPLE-000001..., issue 1, issued today, expiring five years later,
// template "municipal-id". Job i holds People[i%len(People)] and Photo(i).
// n <= 0 gives no jobs.
func Jobs(n int, today time.Time) []*job.Job {
	n = max(n, 0)
	day := today.Format(time.DateOnly)
	out := make([]*job.Job, 0, n)
	for i := range n {
		f := isample.CardFields(i, today)
		out = append(out, &job.Job{
			V:    1,
			ID:   uuid.NewSHA1(namespace, fmt.Appendf(nil, "job/%s/%d", day, i)).String(),
			Kind: job.KindIssue,
			Card: job.Card{
				Number:  f.Number,
				Issue:   f.Issue,
				Name:    f.Name,
				DOB:     f.DOB,
				Gender:  f.Gender,
				Issued:  f.Issued,
				Expires: f.Expires,
				Photo:   base64.StdEncoding.EncodeToString(f.Photo),
			},
			Template: Template,
		})
	}
	return out
}

// Reprint returns a reprint of the job of: a new job id (derived from of's
// id, the reason and the new issue), kind reprint, the same card number,
// person and dates, issue of.Card.Issue+1, and a reprint object naming of's
// job id, the reason and RequestedBy. of is not modified.
func Reprint(of *job.Job, reason string) *job.Job {
	r := *of
	r.Kind = job.KindReprint
	r.Card.Issue = of.Card.Issue + 1
	r.ID = uuid.NewSHA1(namespace, fmt.Appendf(nil, "reprint/%s/%s/%d", of.ID, reason, r.Card.Issue)).String()
	r.Reprint = &job.Reprint{OfJob: of.ID, Reason: reason, RequestedBy: RequestedBy}
	return &r
}

// Body returns the exact JSON bytes to publish (and sign) for j: compact,
// fields in the contract's order, no trailing newline.
func Body(j *job.Job) []byte {
	b, err := json.Marshal(j)
	if err != nil {
		// A job.Job holds only strings, ints and a pointer to strings.
		panic("sample: marshal job: " + err.Error())
	}
	return b
}

// Sealed returns the v2 body of j (a plain card job, as Jobs makes) for
// site and pool, its person sealed to the recipients (job.Seal). It panics
// on an error: sample jobs are valid and tests give valid recipients.
func Sealed(j *job.Job, site, pool string, recipients []seal.Recipient) []byte {
	b, err := job.Seal(nil, j, site, pool, recipients)
	if err != nil {
		panic("sample: seal job: " + err.Error())
	}
	return b
}

// Recipients returns the current epoch key (at now) of each daemon's
// epoch store, making it if needed: the keys an enrollment system seals a
// job to when those daemons serve its site. It panics on an error (a test
// helper).
func Recipients(now time.Time, daemons ...*epoch.Store) []seal.Recipient {
	var out []seal.Recipient
	for _, st := range daemons {
		k, err := st.Current(now)
		if err != nil {
			panic("sample: epoch key: " + err.Error())
		}
		out = append(out, k.Recipient())
	}
	return out
}

// SealedFor is Sealed to the current keys (at now) of the daemons' stores.
func SealedFor(j *job.Job, site, pool string, now time.Time, daemons ...*epoch.Store) []byte {
	return Sealed(j, site, pool, Recipients(now, daemons...))
}
