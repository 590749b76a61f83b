// Package job is the v1 card-job contract of DESIGN.md: the JSON body an
// enrollment system publishes, its validation rules, and the approval
// signature that proves the enrollment system approved it.
//
// It knows nothing of NATS: queue/ moves the bytes, this package judges them.
package job

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Message headers that carry a job's identity and approval.
const (
	HeaderMsgID     = "Nats-Msg-Id"
	HeaderKey       = "Approval-Key"
	HeaderSignature = "Approval-Signature"
)

// Kinds of job.
const (
	KindIssue   = "issue"
	KindReprint = "reprint"
)

// Job is one approved card job, v1.
type Job struct {
	V        int      `json:"v"`
	ID       string   `json:"job_id"`
	Kind     string   `json:"kind"`
	Card     Card     `json:"card"`
	Template string   `json:"template"`
	Reprint  *Reprint `json:"reprint,omitempty"`
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

// Parse decodes a job body strictly (unknown fields are an error) and
// validates it. The returned error is a *FieldError naming the field and the
// rule; it never quotes personal data.
func Parse(body []byte) (*Job, error) { return ParseAt(body, time.Now()) }

// ParseAt is Parse with the clock given: now decides whether a birth date
// is in the future.
func ParseAt(body []byte, now time.Time) (*Job, error) {
	_ = now
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var j Job
	if err := dec.Decode(&j); err != nil {
		return nil, &FieldError{Field: "body", Rule: fmt.Sprintf("must be one JSON job object (%s)", jsonProblem(err))}
	}
	if dec.More() {
		return nil, &FieldError{Field: "body", Rule: "must hold exactly one JSON object"}
	}
	if err := j.Validate(); err != nil {
		return nil, err
	}
	return &j, nil
}

// jsonProblem describes a decoding error without echoing input values.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %s: wrong type %s, want %s", e.Field, e.Value, e.Type)
	}
	// DisallowUnknownFields gives `json: unknown field "x"`: the name is not personal data.
	return err.Error()
}

// Validate checks every rule of the v1 contract.
// TODO(queue): complete the rules of DESIGN.md; this first version checks the basics.
func (j *Job) Validate() error {
	if j.V != 1 {
		return &FieldError{"v", "must be 1"}
	}
	if j.ID == "" {
		return &FieldError{"job_id", "must be a UUID"}
	}
	return nil
}
