package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue"
)

// Subject prefixes of the two services.
const (
	DiagPrefix = "printerd.diag"
	JobsPrefix = "printerd.jobs"
)

// DiagSubject is the subject of a diag verb on a printer:
// printerd.diag.<site>.<printer>.<verb>.
func DiagSubject(site, printer, verb string) string {
	return DiagPrefix + "." + site + "." + printer + "." + verb
}

// JobsSubject is the subject of a clerk verb: printerd.jobs.<site>.<verb>.
func JobsSubject(site, verb string) string { return JobsPrefix + "." + site + "." + verb }

// Diag verbs.
const (
	VerbStatus   = "status"
	VerbInfo     = "info"
	VerbCounters = "counters"
	VerbClean    = "clean"
	VerbTestCard = "test-card"
	VerbReset    = "reset"
	VerbRaw      = "raw"
	VerbPause    = "pause"
	VerbResume   = "resume"
)

// Jobs verbs.
const (
	VerbHeld    = "held"
	VerbRelease = "release"
	VerbCancel  = "cancel"
	VerbHistory = "history"
	// VerbList lists a site's queued, printing and held jobs per pool
	// (queue.JobList), reading no job body.
	VerbList = "list"
	// VerbPrinters lists the printers the answering daemon holds
	// ([]queue.PrinterStatus).
	VerbPrinters = "printers"
	// VerbStatus is the jobs verb status too.
)

// DiagVerbs are the diag verbs, in the order the CLI lists them.
var DiagVerbs = []string{VerbStatus, VerbInfo, VerbCounters, VerbClean, VerbTestCard, VerbReset, VerbPause, VerbResume, VerbRaw}

// JobsVerbs are the jobs verbs.
var JobsVerbs = []string{VerbStatus, VerbList, VerbHeld, VerbRelease, VerbCancel, VerbHistory, VerbPrinters}

// DiagRequest is the request body of printerd.diag.<site>.<printer>.<verb>.
type DiagRequest struct {
	// Arg is the ribbon for test-card and the command for raw; other
	// verbs take none.
	Arg string `json:"arg,omitempty"`
}

// JobsRequest is the request body of printerd.jobs.<site>.<verb>; each verb
// uses the fields the package documentation lists for it.
//
// There is no operator field: the operator is the requester the server
// attests (Requester), and a request naming one is refused as malformed.
// Reason is a reason code (queue.ReleaseReasons, queue.CancelReasons).
type JobsRequest struct {
	JobID      string `json:"job_id,omitempty"`
	CardNumber string `json:"card_number,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// StatusResult is the result of the diag verb status through a daemon: the
// printer's status and whether the daemon paused its worker (a paused
// printer takes no job even when ready).
type StatusResult struct {
	drivers.Status
	Paused bool `json:"paused"`
}

// PauseResult is the result of pause and resume.
type PauseResult struct {
	Printer string `json:"printer"`
	Paused  bool   `json:"paused"`
}

// Reply is the reply body of every request.
type Reply struct {
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	Code   string          `json:"code,omitempty"`
}

// Error codes of a failed request.
const (
	CodeBadRequest  = "bad-request" // the request broke the protocol: unknown verb, bad body, bad field
	CodeNotFound    = "not-found"   // no such job, card number or printer
	CodeConflict    = "conflict"    // the job is not in the state the verb needs, or another writer won
	CodeBusy        = "busy"        // the printer stayed busy (a card printing) until the request's time ran out
	CodeUnavailable = "unavailable" // the daemon cannot serve the verb (diagnostics off, shutting down)
	CodeFailed      = "failed"      // the verb ran and failed (a printer error, a store error)
	CodeForbidden   = "forbidden"   // no server-attested identity, or one that may not use the verb
)

// Error is a failed request as the Client returns it: the daemon's message
// and code. errors.Is matches queue.ErrNotFound and queue.ErrConflict by
// code.
type Error struct {
	Subject string
	Code    string
	Message string
}

// Error returns the daemon's message.
func (e *Error) Error() string { return e.Message }

// Is matches the queue errors a code stands for.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeNotFound:
		return target == queue.ErrNotFound
	case CodeConflict:
		return target == queue.ErrConflict
	case CodeForbidden:
		return target == ErrForbidden
	}
	return false
}

// ErrNoDaemon is returned (wrapped) by the Client when no printerd serves
// the subject: no daemon for the site, or no such printer in it.
var ErrNoDaemon = errors.New("service: no printerd answers: is a daemon running for this site (printerd run), and are --site and the printer name right?")

// badRequest is a request that broke the protocol.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

// decodeRequest decodes a JSON request body strictly; an empty body is {}.
func decodeRequest(data []byte, v any) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &badRequest{fmt.Sprintf("service: request: must be a JSON object with the verb's fields: %v", err)}
	}
	return nil
}
