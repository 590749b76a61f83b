package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"io"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/cityid/printerd/queue/seal"
)

// Contract versions.
const (
	V1 = 1 // plaintext person's fields; refused on the bus unless a migration option accepts it
	V2 = 2 // the person's fields sealed (docs/job-contract-v2.md)
)

// MaxPhotoBytes is the largest photo of a v2 job, in bytes: what v1's
// MaxPhotoBase64 of base64 decodes to (384 KiB).
const MaxPhotoBytes = MaxPhotoBase64 / 4 * 3

// Rules of the v2 contract, as FieldError.Rule says them.
const (
	RuleV2        = "must be 2"
	RuleV1Refused = "must be 2: v1 jobs carry the person's data in plaintext and are refused (the daemon's accept-v1 setting accepts them during a migration)"
	RuleToken     = "must be 1-64 of A-Z, a-z, 0-9, - and _"
	RuleSealed    = "is required: the person's name, dob, gender and photo, sealed to the site's daemon keys (docs/sealed-jobs.md)"
	RulePhotoV2   = "must be at most 384 KiB"
)

// Envelope is a v2 job body as it travels: the clear fields and the
// sealed part holding the person. It carries no personal data in the
// clear; only Open, with one of the recipient daemon's epoch keys, reads
// the person.
type Envelope struct {
	V        int          `json:"v"`
	ID       string       `json:"job_id"`
	Site     string       `json:"site"`
	Pool     string       `json:"pool"`
	Kind     string       `json:"kind"`
	Template string       `json:"template"`
	Card     ClearCard    `json:"card"`
	Reprint  *Reprint     `json:"reprint,omitempty"`
	Sealed   *seal.Sealed `json:"sealed"`
}

// ClearCard is the clear part of a v2 body's card object.
type ClearCard struct {
	Number  string `json:"number"`
	Issue   int    `json:"issue"`
	Issued  string `json:"issued"`
	Expires string `json:"expires"`
}

// schemaV2 is the set of field names of the v2 body, by object. The
// sealed part has its own strict parser (seal.Parse).
var schemaV2 = object{
	"v": nil, "job_id": nil, "site": nil, "pool": nil, "kind": nil, "template": nil,
	"card":    {"number": nil, "issue": nil, "issued": nil, "expires": nil},
	"reprint": {"of_job": nil, "reason": nil, "requested_by": nil},
	"sealed":  nil,
}

// Version returns the contract version a body claims in its "v" member, or
// 0 if it has none that is an integer. It is for dispatch only: the
// version's own parser then checks everything.
func Version(body []byte) int {
	var v struct {
		V int `json:"v"`
	}
	if json.NewDecoder(bytes.NewReader(body)).Decode(&v) != nil {
		return 0
	}
	return v.V
}

// ParseEnvelope decodes a v2 body strictly (as Parse does a v1 body) and
// checks the rules of its clear fields and the format of its sealed part.
// It does not open the sealed part. Errors are *FieldError values that
// never quote the body.
func ParseEnvelope(body []byte) (*Envelope, error) {
	var e Envelope
	if err := decodeStrict(body, schemaV2, &e); err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}

// envelopeError turns a decoding error into a FieldError: the sealed
// part's own format errors keep their field, under "sealed"; others as
// jsonError says.
func envelopeError(err error) *FieldError {
	var fe *seal.FormatError
	if errors.As(err, &fe) {
		field := fe.Field
		if field != "sealed" && !strings.HasPrefix(field, "sealed.") {
			field = "sealed." + field
		}
		return &FieldError{field, fe.Rule}
	}
	return jsonError(err)
}

// Validate checks the rules of the clear fields (the v1 rules of the same
// fields; site and pool are subject tokens) and that the sealed part is
// there, and returns the first broken one as a *FieldError.
func (e *Envelope) Validate() error {
	if e.V != V2 {
		return &FieldError{"v", RuleV2}
	}
	j := e.clearJob()
	if !ValidID(j.ID) {
		return &FieldError{"job_id", RuleUUID}
	}
	if !isToken(e.Site) {
		return &FieldError{"site", RuleToken}
	}
	if !isToken(e.Pool) {
		return &FieldError{"pool", RuleToken}
	}
	if err := j.checkHead(); err != nil {
		return err
	}
	if err := j.checkTail(); err != nil {
		return err
	}
	if e.Sealed == nil {
		return &FieldError{"sealed", RuleSealed}
	}
	return nil
}

// ClearFields returns the fields bound into the sealed part as associated
// data (seal.ClearFields.AAD), exactly as they are in the body.
func (e *Envelope) ClearFields() seal.ClearFields {
	c := seal.ClearFields{V: e.V, JobID: e.ID, Site: e.Site, Pool: e.Pool, Kind: e.Kind, Template: e.Template,
		CardNumber: e.Card.Number, CardIssue: e.Card.Issue, Issued: e.Card.Issued, Expires: e.Card.Expires}
	if r := e.Reprint; r != nil {
		c.ReprintOfJob, c.ReprintReason, c.ReprintRequestedBy = r.OfJob, r.Reason, r.RequestedBy
	}
	return c
}

// Clear returns the job with its clear fields only: no name, birth date,
// gender or photo. The queue routes, claims and audits a job with it
// before it opens the sealed part.
func (e *Envelope) Clear() *Job { return e.clearJob() }

func (e *Envelope) clearJob() *Job {
	j := &Job{V: e.V, ID: e.ID, Kind: e.Kind, Template: e.Template,
		Card: Card{Number: e.Card.Number, Issue: e.Card.Issue, Issued: e.Card.Issued, Expires: e.Card.Expires}}
	if e.Reprint != nil {
		r := *e.Reprint
		j.Reprint = &r
	}
	return j
}

// RecipientKIDs returns the key ids the sealed part is wrapped for, so a
// daemon can tell whether it still holds one without opening the part.
func (e *Envelope) RecipientKIDs() []string {
	if e.Sealed == nil {
		return nil
	}
	out := make([]string, len(e.Sealed.Recipients))
	for i, w := range e.Sealed.Recipients {
		out[i] = w.KID
	}
	return out
}

// OpenAt opens the sealed part with the daemon's epoch keys and returns
// the whole job: the clear fields and the person, normalised to NFC and
// checked against the v1 rules of the same fields (errors name them as
// sealed.name, sealed.dob, sealed.gender, sealed.photo). now decides
// whether a birth date is in the future. Errors from opening match
// seal.ErrKeyGone (no recipient key held: enrollment must seal the job
// again and re-submit), seal.ErrBinding (moved or altered) or
// seal.ErrMalformed. The photo is decoded and its bytes wiped at once; the
// caller calls Wipe on the job once the card is laid out.
func (e *Envelope) OpenAt(keys seal.Keyring, now time.Time) (*Job, error) {
	p, err := seal.Open(e.Sealed, e.ClearFields(), keys)
	if err != nil {
		return nil, err
	}
	defer p.Wipe()
	j := e.clearJob()
	j.Card.Name = norm.NFC.String(p.Name)
	j.Card.DOB = p.DOB
	j.Card.Gender = norm.NFC.String(p.Gender)
	if err := j.Card.checkPerson("sealed.", now); err != nil {
		j.Wipe()
		return nil, err
	}
	if err := j.Card.checkClock(now); err != nil {
		j.Wipe()
		return nil, err
	}
	if len(p.Photo) == 0 {
		j.Wipe()
		return nil, &FieldError{"sealed.photo", RulePhotoEmpty}
	}
	if len(p.Photo) > MaxPhotoBytes {
		j.Wipe()
		return nil, &FieldError{"sealed.photo", RulePhotoV2}
	}
	img, err := checkPhotoBytes("sealed.photo", p.Photo)
	if err != nil {
		j.Wipe()
		return nil, err
	}
	j.photo, j.photoOf = img, j.Card.Photo // Card.Photo stays empty: no base64 copy
	return j, nil
}

// Seal builds the v2 body of a plain card job (a valid v1 Job, as in a
// plain card file) for a site and pool: the clear fields as they are and
// the person sealed to the recipients (the current epoch key of each
// daemon of the site). rand supplies the content key and nonce (nil means
// crypto/rand). The result is the exact body to sign and publish. Seal
// checks site and pool but no other rule: parse or validate the plain job
// first (tests seal invalid jobs on purpose).
func Seal(rand io.Reader, j *Job, site, pool string, recipients []seal.Recipient) ([]byte, error) {
	if !isToken(site) {
		return nil, &FieldError{"site", RuleToken}
	}
	if !isToken(pool) {
		return nil, &FieldError{"pool", RuleToken}
	}
	photo, err := j.Card.PhotoBytes()
	if err != nil {
		return nil, err
	}
	p := seal.Person{Name: j.Card.Name, DOB: j.Card.DOB, Gender: j.Card.Gender, Photo: photo}
	defer p.Wipe()
	e := &Envelope{V: V2, ID: j.ID, Site: site, Pool: pool, Kind: j.Kind, Template: j.Template,
		Card: ClearCard{Number: j.Card.Number, Issue: j.Card.Issue, Issued: j.Card.Issued, Expires: j.Card.Expires}}
	if j.Reprint != nil {
		r := *j.Reprint
		e.Reprint = &r
	}
	if e.Sealed, err = seal.Seal(rand, p, e.ClearFields(), recipients); err != nil {
		return nil, err
	}
	return json.Marshal(e)
}

// Wipe forgets the person's fields and overwrites the pixels of the
// decoded photo with zeros. Call it once the card is laid out. The old
// bytes of the name, birth date and gender strings cannot be overwritten
// in Go (see queue/seal); they last until the memory is reused.
func (j *Job) Wipe() {
	j.Card.Name, j.Card.DOB, j.Card.Gender, j.Card.Photo = "", "", "", ""
	wipeImage(j.photo)
	j.photo, j.photoOf = nil, ""
}

// wipeImage zeroes the pixel buffers of the image types the JPEG and PNG
// decoders return.
func wipeImage(img image.Image) {
	switch m := img.(type) {
	case *image.YCbCr:
		clear(m.Y)
		clear(m.Cb)
		clear(m.Cr)
	case *image.NYCbCrA:
		clear(m.Y)
		clear(m.Cb)
		clear(m.Cr)
		clear(m.A)
	case *image.RGBA:
		clear(m.Pix)
	case *image.RGBA64:
		clear(m.Pix)
	case *image.NRGBA:
		clear(m.Pix)
	case *image.NRGBA64:
		clear(m.Pix)
	case *image.Gray:
		clear(m.Pix)
	case *image.Gray16:
		clear(m.Pix)
	case *image.Paletted:
		clear(m.Pix)
	case *image.CMYK:
		clear(m.Pix)
	}
}

// isToken is the subject-token rule of site and pool (queue.ValidToken).
func isToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
