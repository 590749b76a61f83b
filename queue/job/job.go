package job

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/cityid/printerd/internal/imgcheck"
	"golang.org/x/text/unicode/norm"
)

// Message headers that carry a job's identity and approval.
const (
	HeaderMsgID     = "Nats-Msg-Id"
	HeaderKey       = "Approval-Key"
	HeaderSignature = "Approval-Signature"
)

// MsgID is the Nats-Msg-Id of a job: its id, a '.', and the first 16 hex
// digits of SHA-256 over its Approval-Signature header value. JetStream
// drops a message whose id it has seen within the duplicate window, and
// anyone allowed to publish jobs can choose the header, so an id the
// publisher could predict would let an unsigned message sent first make
// the real job disappear as a "duplicate". Binding the id to the signature
// means only the approved job itself (re-sent, with the same signature)
// can collide with it; the daemon refuses a job whose id is not this.
func MsgID(jobID, signature string) string {
	h := sha256.Sum256([]byte(signature))
	return jobID + "." + hex.EncodeToString(h[:8])
}

// Kinds of job.
const (
	KindIssue   = "issue"
	KindReprint = "reprint"
)

// Limits of the v1 contract.
const (
	// MaxBody is the largest job body Parse reads: the photo limit plus
	// room for the other fields.
	MaxBody = 1 << 20
	// MaxPhotoBase64 is the largest card.photo, in base64 characters.
	MaxPhotoBase64 = 512 << 10
	// MaxPhotoSide is the largest photo width or height in pixels.
	MaxPhotoSide = 4096
	// MaxName is the longest card.name in characters (NFC code points).
	MaxName = 80
	// MaxGender is the longest card.gender in characters.
	MaxGender = 24
	// MaxRequestedBy is the longest reprint.requested_by in characters.
	MaxRequestedBy = 64
)

// Reprint reasons.
const (
	ReasonLost       = "lost"
	ReasonStolen     = "stolen"
	ReasonDamaged    = "damaged"
	ReasonMisprint   = "misprint"
	ReasonNameChange = "name-change"
	ReasonSpoiled    = "spoiled"
)

// Reasons lists the valid reprint reasons.
var Reasons = []string{ReasonLost, ReasonStolen, ReasonDamaged, ReasonMisprint, ReasonNameChange, ReasonSpoiled}

// Job is one approved card job, v1.
type Job struct {
	V        int      `json:"v"`
	ID       string   `json:"job_id"`
	Kind     string   `json:"kind"`
	Card     Card     `json:"card"`
	Template string   `json:"template"`
	Reprint  *Reprint `json:"reprint,omitempty"`

	// photo is Card.Photo as Validate decoded it, and photoOf the
	// Card.Photo it was decoded from: the card is laid out from it, so the
	// photo is decoded once per job.
	photo   image.Image
	photoOf string
}

// PhotoImage returns the card's photo as Validate (and so Parse) decoded
// and checked it, or nil if the job was not validated or Card.Photo changed
// since. Layout takes it instead of decoding the photo a second time.
func (j *Job) PhotoImage() image.Image {
	if j.photo == nil || j.photoOf != j.Card.Photo {
		return nil
	}
	return j.photo
}

// Card holds the printed fields. Name, DOB, Gender and Photo are personal
// data: they must never reach a log, event, metric, audit record or error.
type Card struct {
	Number  string `json:"number"`
	Issue   int    `json:"issue"`
	Name    string `json:"name"`
	DOB     string `json:"dob"`
	Gender  string `json:"gender"`
	Issued  string `json:"issued"`
	Expires string `json:"expires"`
	// Photo is the base64 JPEG or PNG as sent.
	Photo string `json:"photo"`
}

// Reprint says why a card is printed again.
type Reprint struct {
	OfJob       string `json:"of_job"`
	Reason      string `json:"reason"`
	RequestedBy string `json:"requested_by"`
}

// FieldError is a rejected job: the JSON path of the field and the rule it
// broke. It never carries the field's value.
type FieldError struct {
	Field string // JSON path, e.g. "card.dob"
	Rule  string // e.g. "must be a real date YYYY-MM-DD, not in the future"
}

func (e *FieldError) Error() string { return "job: " + e.Field + ": " + e.Rule }

// Rules, as FieldError.Rule says them. They are fixed text: a rule never
// includes a value from the job.
const (
	RuleV            = "must be 1"
	RuleUUID         = "must be a UUID in canonical lowercase form (8-4-4-4-12 hex digits, not all zero)"
	RuleKind         = "must be issue or reprint"
	RuleNumber       = "must be 4-24 of A-Z, 0-9 and -"
	RuleIssueFirst   = "must be 1 for kind issue"
	RuleIssueAgain   = "must be 2 or more for kind reprint"
	RuleNameLen      = "must be 1-80 characters after Unicode NFC"
	RuleGenderLen    = "must be 1-24 characters after Unicode NFC"
	RulePrintable    = "must be printable text: no control or format characters, no spaces other than U+0020"
	RuleSpaces       = "must not start or end with a space"
	RuleNFC          = "must be in Unicode NFC (Parse normalises it)"
	RuleDate         = "must be a real date YYYY-MM-DD"
	RuleDOBFuture    = "must not be in the future"
	RuleExpires      = "must not be before card.issued"
	RuleVisible      = "must contain a visible character and no blank filler (Hangul fillers U+115F, U+1160, U+3164, U+FFA0, Braille blank U+2800)"
	RuleReplacement  = "must not contain U+FFFD (a replacement character, or a lone surrogate escaped in the JSON): the text was damaged before it was sent"
	RuleDateRange    = "must be a date from 1900-01-01 on"
	RuleIssuedRange  = "must be a date from 1970-01-01 on (the signed code counts dates from 1970)"
	RuleDOBIssued    = "must not be after card.issued"
	RuleExpired      = "must not be in the past: the card would be expired when printed"
	RuleIssuedFuture = "must not be more than 31 days in the future"
	RulePhotoEmpty   = "must be a base64 JPEG or PNG; it is empty"
	RulePhotoSize    = "must be at most 512 KiB of base64"
	RuleBase64       = "must be standard base64 (RFC 4648 alphabet with padding, no line breaks)"
	RulePhotoFormat  = "must be a JPEG or PNG image (by its magic bytes)"
	RulePhotoHeader  = "must have a readable JPEG or PNG header"
	RulePhotoPixels  = "must be at most 4096x4096 pixels, and not empty"
	RulePhotoDepth   = "must decode within 64 MiB (width x height x bytes a pixel): a 16-bit PNG at most 2896x2896"
	RulePhotoBroken  = "must be a complete, decodable image"
	RuleTemplate     = "must be 1-64 of a-z, 0-9 and -"
	RuleReprintReq   = "is required for kind reprint"
	RuleReprintNo    = "must be absent for kind issue"
	RuleOfJobSelf    = "must differ from job_id"
	RuleReason       = "must be one of lost, stolen, damaged, misprint, name-change, spoiled"
	RuleRequestedBy  = "must be 1-64 printable characters"
	RuleBodySize     = "must be at most 1 MiB"
	RuleUTF8         = "must be valid UTF-8"
	RuleObject       = "must be one JSON object"
	RuleTrailing     = "must hold exactly one JSON object and nothing after it"
	RuleUnknown      = "has an unknown field"
	RuleCase         = "is spelt with the wrong case; field names are lower-case as in the contract"
	RuleDuplicate    = "appears more than once"
)

// Parse decodes a job body strictly and validates it against the clock
// now = time.Now(). The returned error is a *FieldError naming the field
// and the rule; it never quotes personal data. See the package doc for the
// rules; card.name and card.gender come back in NFC.
func Parse(body []byte) (*Job, error) { return ParseAt(body, time.Now()) }

// ParseAt is Parse with the clock given: now decides whether a birth date
// is in the future.
func ParseAt(body []byte, now time.Time) (*Job, error) {
	var j Job
	if err := decodeStrict(body, schema, &j); err != nil {
		return nil, err
	}
	j.Normalize()
	if err := j.ValidateAt(now); err != nil {
		return nil, err
	}
	return &j, nil
}

// decodeStrict decodes one body into v: at most MaxBody bytes of valid
// UTF-8, member names exactly as in sch (checkKeys), exactly one JSON
// object. Errors are *FieldError values that never quote the body.
func decodeStrict(body []byte, sch object, v any) error {
	if len(body) > MaxBody {
		return &FieldError{"body", RuleBodySize}
	}
	if !utf8.Valid(body) {
		// encoding/json would silently turn bad bytes into U+FFFD.
		return &FieldError{"body", RuleUTF8}
	}
	if err := checkKeys(body, "", sch); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return envelopeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{"body", RuleTrailing}
	}
	return nil
}

// Normalize puts card.name and card.gender in Unicode NFC, in place.
func (j *Job) Normalize() {
	j.Card.Name = norm.NFC.String(j.Card.Name)
	j.Card.Gender = norm.NFC.String(j.Card.Gender)
}

// schema is the set of field names of the v1 body, by object.
type object map[string]object

var schema = object{
	"v": nil, "job_id": nil, "kind": nil, "template": nil,
	"card": {
		"number": nil, "issue": nil, "name": nil, "dob": nil, "gender": nil,
		"issued": nil, "expires": nil, "photo": nil,
	},
	"reprint": {"of_job": nil, "reason": nil, "requested_by": nil},
}

// checkKeys walks one JSON object and refuses field names that are
// unknown, spelt with another case (encoding/json would accept them) or
// repeated. An unknown name is never echoed: it could be anything.
func checkKeys(raw []byte, path string, want object) error {
	where := path
	if where == "" {
		where = "body"
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if path == "" {
			return &FieldError{"body", RuleObject}
		}
		return nil // a type error, reported by the struct decoder
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		key, _ := tok.(string)
		field := join(path, key)
		sub, known := want[key]
		switch {
		case known && seen[key]:
			return &FieldError{field, RuleDuplicate}
		case !known:
			for k := range want {
				if strings.EqualFold(k, key) {
					return &FieldError{join(path, k), RuleCase}
				}
			}
			return &FieldError{where, RuleUnknown}
		}
		seen[key] = true
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return jsonError(err)
		}
		if sub != nil {
			if err := checkKeys(val, field, sub); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// knownFields are the JSON paths a FieldError may name.
var knownFields = func() map[string]bool {
	m := map[string]bool{"body": true}
	for _, sch := range []object{schema, schemaV2} {
		for k, sub := range sch {
			m[k] = true
			for s := range sub {
				m[k+"."+s] = true
			}
		}
	}
	return m
}()

// jsonError turns a decoding error into a FieldError without echoing input.
func jsonError(err error) *FieldError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &FieldError{"body", "must be valid JSON (syntax error at byte " + itoa(syn.Offset) + ")"}
	case errors.As(err, &typ):
		field := typ.Field
		if !knownFields[field] {
			field = "body"
		}
		return &FieldError{field, "must be a JSON " + jsonType(typ.Type)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{"body", "must be one complete JSON object"}
	}
	return &FieldError{"body", RuleObject}
}

func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.String:
		return "string"
	}
	return "object"
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Validate checks every rule of the v1 contract against the clock
// time.Now(). See ValidateAt.
func (j *Job) Validate() error { return j.ValidateAt(time.Now()) }

// ValidateAt checks every rule of the v1 contract (DESIGN.md) and returns
// the first broken one as a *FieldError. now decides whether a birth date
// is in the future. Name and gender must already be NFC (see Normalize).
// The photo is checked last because it is the costly check.
func (j *Job) ValidateAt(now time.Time) error {
	if j.V != 1 {
		return &FieldError{"v", RuleV}
	}
	if err := j.checkHead(); err != nil {
		return err
	}
	if err := j.Card.checkPerson("card.", now); err != nil {
		return err
	}
	if err := j.checkTail(); err != nil {
		return err
	}
	if err := j.Card.checkClock(now); err != nil {
		return err
	}
	img, err := j.Card.checkPhoto()
	if err != nil {
		return err
	}
	j.photo, j.photoOf = img, j.Card.Photo
	return nil
}

// checkHead checks job_id, kind, card.number and card.issue: the rules
// before the person's fields in the v1 order.
func (j *Job) checkHead() error {
	c := &j.Card
	if !ValidID(j.ID) {
		return &FieldError{"job_id", RuleUUID}
	}
	if j.Kind != KindIssue && j.Kind != KindReprint {
		return &FieldError{"kind", RuleKind}
	}
	if !isCardNumber(c.Number) {
		return &FieldError{"card.number", RuleNumber}
	}
	if j.Kind == KindIssue && c.Issue != 1 {
		return &FieldError{"card.issue", RuleIssueFirst}
	}
	if j.Kind == KindReprint && c.Issue < 2 {
		return &FieldError{"card.issue", RuleIssueAgain}
	}
	return nil
}

// checkPerson checks the name, birth date and gender; prefix is the path
// of their object in errors ("card." in v1, "sealed." in v2).
func (c *Card) checkPerson(prefix string, now time.Time) error {
	if rule := checkText(c.Name, MaxName, RuleNameLen); rule != "" {
		return &FieldError{prefix + "name", rule}
	}
	dob, ok := parseDate(c.DOB)
	if !ok {
		return &FieldError{prefix + "dob", RuleDate}
	}
	if dob.Before(minDate) {
		return &FieldError{prefix + "dob", RuleDateRange}
	}
	if dob.After(latestToday(now)) {
		return &FieldError{prefix + "dob", RuleDOBFuture}
	}
	if issued, ok := parseDate(c.Issued); ok && dob.After(issued) {
		return &FieldError{prefix + "dob", RuleDOBIssued}
	}
	if rule := checkText(c.Gender, MaxGender, RuleGenderLen); rule != "" {
		return &FieldError{prefix + "gender", rule}
	}
	return nil
}

// checkTail checks the dates, the template and the reprint object: the
// clear rules after the person's fields in the v1 order.
func (j *Job) checkTail() error {
	c := &j.Card
	issued, ok := parseDate(c.Issued)
	if !ok {
		return &FieldError{"card.issued", RuleDate}
	}
	expires, ok := parseDate(c.Expires)
	if !ok {
		return &FieldError{"card.expires", RuleDate}
	}
	if err := checkDates(issued, expires); err != nil {
		return err
	}
	if !isTemplate(j.Template) {
		return &FieldError{"template", RuleTemplate}
	}
	return j.validateReprint()
}

func (j *Job) validateReprint() error {
	r := j.Reprint
	if j.Kind == KindIssue {
		if r != nil {
			return &FieldError{"reprint", RuleReprintNo}
		}
		return nil
	}
	if r == nil {
		return &FieldError{"reprint", RuleReprintReq}
	}
	if !ValidID(r.OfJob) {
		return &FieldError{"reprint.of_job", RuleUUID}
	}
	if r.OfJob == j.ID {
		return &FieldError{"reprint.of_job", RuleOfJobSelf}
	}
	valid := false
	for _, reason := range Reasons {
		valid = valid || r.Reason == reason
	}
	if !valid {
		return &FieldError{"reprint.reason", RuleReason}
	}
	n := utf8.RuneCountInString(r.RequestedBy)
	if n < 1 || n > MaxRequestedBy || !printable(r.RequestedBy) || r.RequestedBy != strings.TrimSpace(r.RequestedBy) {
		return &FieldError{"reprint.requested_by", RuleRequestedBy}
	}
	return nil
}

// checkText applies the name/gender rules and returns the broken rule, or "".
func checkText(s string, max int, lenRule string) string {
	if !utf8.ValidString(s) {
		return RulePrintable
	}
	if s != norm.NFC.String(s) {
		return RuleNFC
	}
	if n := utf8.RuneCountInString(s); n < 1 || n > max {
		return lenRule
	}
	if !printable(s) {
		return RulePrintable
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return RuleSpaces
	}
	return checkVisible(s)
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// ValidID reports whether s is a job id: a UUID in its canonical
// lower-case 8-4-4-4-12 hex form, not the nil UUID. It is the one rule for
// job ids, in job bodies, Nats-Msg-Id headers and clerk requests.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	u, err := uuid.Parse(s)
	return err == nil && u != uuid.Nil && u.String() == s
}

func isCardNumber(s string) bool {
	if len(s) < 4 || len(s) > 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func isTemplate(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// parseDate parses YYYY-MM-DD strictly; time.Parse refuses 2023-02-30.
func parseDate(s string) (time.Time, bool) {
	if len(s) != 10 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}

// latestToday is today's date (as UTC midnight) in the earliest time zone
// on Earth, UTC+14.
func latestToday(now time.Time) time.Time {
	t := now.UTC().Add(14 * time.Hour)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// PhotoBytes returns the decoded photo bytes. The error, a *FieldError, says
// why card.photo is not base64 of acceptable size; it does not check the
// image itself (Validate does).
func (c *Card) PhotoBytes() ([]byte, error) {
	if c.Photo == "" {
		return nil, &FieldError{"card.photo", RulePhotoEmpty}
	}
	if len(c.Photo) > MaxPhotoBase64 {
		return nil, &FieldError{"card.photo", RulePhotoSize}
	}
	// StdEncoding ignores CR and LF; the contract does not allow them.
	if strings.ContainsAny(c.Photo, "\r\n") {
		return nil, &FieldError{"card.photo", RuleBase64}
	}
	b, err := base64.StdEncoding.Strict().DecodeString(c.Photo)
	if err != nil {
		return nil, &FieldError{"card.photo", RuleBase64}
	}
	return b, nil
}

var (
	magicJPEG = []byte{0xff, 0xd8, 0xff}
	magicPNG  = []byte("\x89PNG\r\n\x1a\n")
)

// checkPhoto: base64, then checkPhotoBytes.
func (c *Card) checkPhoto() (image.Image, error) {
	b, err := c.PhotoBytes()
	if err != nil {
		return nil, err
	}
	return checkPhotoBytes("card.photo", b)
}

// checkPhotoBytes: magic bytes, header size, then a full decode, whose
// image it returns. field names the photo in errors.
func checkPhotoBytes(field string, b []byte) (image.Image, error) {
	var decodeConfig func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch {
	case bytes.HasPrefix(b, magicJPEG):
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	case bytes.HasPrefix(b, magicPNG):
		decodeConfig, decode = png.DecodeConfig, png.Decode
	default:
		return nil, &FieldError{field, RulePhotoFormat}
	}
	cfg, err := decodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, &FieldError{field, RulePhotoHeader}
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxPhotoSide || cfg.Height > MaxPhotoSide {
		return nil, &FieldError{field, RulePhotoPixels}
	}
	if imgcheck.Check(cfg, MaxPhotoSide, imgcheck.DefaultBudget) != nil {
		return nil, &FieldError{"card.photo", RulePhotoDepth}
	}
	img, err := decode(bytes.NewReader(b))
	if err != nil {
		return nil, &FieldError{field, RulePhotoBroken}
	}
	return img, nil
}
