package sample

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cityid/printerd/queue/job"
)

// Template is the card template every sample job asks for.
const Template = "municipal-id"

// RequestedBy is the clerk id sample reprints carry.
const RequestedBy = "clerk-sample-0042"

// dateLayout is the v1 contract's date form.
const dateLayout = "2006-01-02"

// namespace seeds the name-based (version 5) UUIDs of sample jobs.
var namespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://cityid.invalid/printerd/sample"))

// Person is one invented card holder.
type Person struct {
	Name   string
	DOB    string
	Gender string
	// Why names what the entry exercises (e.g. "Polish diacritics").
	Why string
}

// People is the fixed cast of invented card holders. Jobs cycles through it.
// Every name is made up; several embed a word meaning "test" or "sample".
var People = []Person{
	{Name: "Zofia Żółćńska-Próbna", DOB: "1987-03-14", Gender: "F", Why: "Polish diacritics"},
	{Name: "Nguyễn Thị Mẫu Thử", DOB: "1992-11-02", Gender: "F", Why: "Vietnamese stacked diacritics (precomposed under NFC)"},
	{Name: "Şükrü İğdeli Deneme", DOB: "1975-06-30", Gender: "M", Why: "Turkish dotted/dotless i, cedilla, breve"},
	{Name: "Þórdís Ðögg Prófsdóttir", DOB: "2001-01-01", Gender: "Non-binary", Why: "Icelandic thorn, eth"},
	// Q, W and Y with these marks have no precomposed form, so NFC keeps
	// combining marks (U+0323, U+0304, U+0308, U+0301, U+0330) in the string.
	{Name: "Q̣̄uinn W̌̃ẙ̄ Testa", DOB: "1969-12-31", Gender: "Two-Spirit", Why: "combining marks that do not compose under NFC"},
	{Name: "Maximiliana Aurelia Konstancja Eleonora Wilhelmina Testowska-Przykładowa Junior", DOB: "1958-08-08", Gender: "F", Why: "long name near 80 characters"},
	{Name: "Bo Ek", DOB: "2004-02-29", Gender: "X", Why: "short name, leap-day birth date"},
	{Name: "Alex Sampleton", DOB: "1990-05-17", Gender: "M", Why: "plain ASCII"},
	{Name: "Ngaio Ō'Tester-Demo", DOB: "1983-09-09", Gender: "Genderfluid", Why: "macron, apostrophe"},
	{Name: "Éowyn Fiction d'Exemple", DOB: "1979-04-04", Gender: "Woman", Why: "French accents"},
}

// Jobs returns n valid issue jobs dated today: unique version-5 UUID job ids
// (derived from the index and today's date), unique card numbers
// SAMPLE-000001..., issue 1, issued today, expiring five years later,
// template "municipal-id". Job i holds People[i%len(People)] and Photo(i).
// n <= 0 gives no jobs.
func Jobs(n int, today time.Time) []*job.Job {
	n = max(n, 0)
	day := today.Format(dateLayout)
	expires := today.AddDate(5, 0, 0).Format(dateLayout)
	out := make([]*job.Job, 0, n)
	for i := range n {
		p := People[i%len(People)]
		out = append(out, &job.Job{
			V:    1,
			ID:   uuid.NewSHA1(namespace, fmt.Appendf(nil, "job/%s/%d", day, i)).String(),
			Kind: job.KindIssue,
			Card: job.Card{
				Number:  fmt.Sprintf("SAMPLE-%06d", i+1),
				Issue:   1,
				Name:    p.Name,
				DOB:     p.DOB,
				Gender:  p.Gender,
				Issued:  day,
				Expires: expires,
				Photo:   base64.StdEncoding.EncodeToString(Photo(i)),
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
