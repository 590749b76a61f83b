package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/diag"
	"github.com/cityid/printerd/queue"
)

// Client sends requests to the services of one site's daemons. Every
// method waits at most until ctx is done.
type Client struct {
	nc   *nats.Conn
	site string
	// behalf is the signed-in person a console client acts for.
	behalf string
}

// NewClient returns a client for site ("" means "local") on nc.
func NewClient(nc *nats.Conn, site string) *Client {
	if site == "" {
		site = "local"
	}
	return &Client{nc: nc, site: site}
}

// OnBehalfOf returns a copy of c whose requests name person, the
// signed-in person a console acts for (the Printerd-On-Behalf-Of header).
// The daemons honour it only from console users and record both: "person
// via console".
func (c *Client) OnBehalfOf(person string) *Client {
	cc := *c
	cc.behalf = person
	return &cc
}

// Site returns the site the client talks to.
func (c *Client) Site() string { return c.site }

// call sends req to subject and decodes the reply's result into res (when
// not nil). A failure reply is an *Error; no daemon is ErrNoDaemon.
func (c *Client) call(ctx context.Context, subject string, req, res any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("service: %s: request: %w", subject, err)
	}
	m := nats.NewMsg(subject)
	m.Data = b
	if c.behalf != "" {
		m.Header.Set(HeaderOnBehalfOf, c.behalf)
	}
	msg, err := c.nc.RequestMsgWithContext(ctx, m)
	if errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("%w (%s)", ErrNoDaemon, subject)
	}
	if err != nil {
		return fmt.Errorf("service: %s: %w (is a daemon running for site %q?)", subject, err, c.site)
	}
	var rep Reply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return fmt.Errorf("service: %s: reply is not {\"result\", \"error\"} JSON: %w", subject, err)
	}
	if rep.Error != "" {
		return &Error{Subject: subject, Code: rep.Code, Message: rep.Error}
	}
	if res == nil {
		return nil
	}
	if err := json.Unmarshal(rep.Result, res); err != nil {
		return fmt.Errorf("service: %s: result: %w", subject, err)
	}
	return nil
}

func (c *Client) jobs(ctx context.Context, verb string, req JobsRequest, res any) error {
	return c.call(ctx, JobsSubject(c.site, verb), req, res)
}

// Status returns a job's ledger entry.
func (c *Client) Status(ctx context.Context, jobID string) (queue.Entry, error) {
	var e queue.Entry
	return e, c.jobs(ctx, VerbStatus, JobsRequest{JobID: jobID}, &e)
}

// Held lists the site's held jobs.
func (c *Client) Held(ctx context.Context) ([]queue.HeldJob, error) {
	var hs []queue.HeldJob
	return hs, c.jobs(ctx, VerbHeld, JobsRequest{}, &hs)
}

// Release prints a held job again, for a reason code
// (queue.ReleaseReasons); the daemon records the authenticated requester
// as the operator.
func (c *Client) Release(ctx context.Context, jobID, reason string) (queue.Entry, error) {
	var e queue.Entry
	return e, c.jobs(ctx, VerbRelease, JobsRequest{JobID: jobID, Reason: reason}, &e)
}

// List returns the site's queued, printing and held jobs per pool; the
// daemon reads no job body to make it.
func (c *Client) List(ctx context.Context) (queue.JobList, error) {
	var l queue.JobList
	return l, c.jobs(ctx, VerbList, JobsRequest{}, &l)
}

// Printers returns the printers of the daemon that answers (one daemon of
// the site): state, ribbon, the job in each.
func (c *Client) Printers(ctx context.Context) ([]queue.PrinterStatus, error) {
	var ps []queue.PrinterStatus
	return ps, c.jobs(ctx, VerbPrinters, JobsRequest{}, &ps)
}

// Cancel ends a held or queued job for a reason code
// (queue.CancelReasons); its data is erased.
func (c *Client) Cancel(ctx context.Context, jobID, reason string) (queue.Entry, error) {
	var e queue.Entry
	return e, c.jobs(ctx, VerbCancel, JobsRequest{JobID: jobID, Reason: reason}, &e)
}

// History returns the site's audit records for a card number.
func (c *Client) History(ctx context.Context, cardNumber string) ([]queue.AuditRecord, error) {
	var rs []queue.AuditRecord
	return rs, c.jobs(ctx, VerbHistory, JobsRequest{CardNumber: cardNumber}, &rs)
}

// Diag runs any diag verb on a printer and returns its result as JSON (the
// CLI prints it as it comes); the typed methods below decode it.
func (c *Client) Diag(ctx context.Context, printer, verb, arg string) (json.RawMessage, error) {
	var res json.RawMessage
	return res, c.call(ctx, DiagSubject(c.site, printer, verb), DiagRequest{Arg: arg}, &res)
}

func (c *Client) diag(ctx context.Context, printer, verb, arg string, res any) error {
	return c.call(ctx, DiagSubject(c.site, printer, verb), DiagRequest{Arg: arg}, res)
}

// PrinterStatus returns a printer's status (diag verb status).
func (c *Client) PrinterStatus(ctx context.Context, printer string) (drivers.Status, error) {
	var st drivers.Status
	return st, c.diag(ctx, printer, VerbStatus, "", &st)
}

// Info returns a printer's model, serial and ribbon.
func (c *Client) Info(ctx context.Context, printer string) (drivers.Info, error) {
	var info drivers.Info
	return info, c.diag(ctx, printer, VerbInfo, "", &info)
}

// Counters returns a printer's counters.
func (c *Client) Counters(ctx context.Context, printer string) (drivers.Counters, error) {
	var n drivers.Counters
	return n, c.diag(ctx, printer, VerbCounters, "", &n)
}

// Clean runs a printer's cleaning cycle.
func (c *Client) Clean(ctx context.Context, printer string) error {
	return c.diag(ctx, printer, VerbClean, "", nil)
}

// Reset resets a printer.
func (c *Client) Reset(ctx context.Context, printer string) error {
	return c.diag(ctx, printer, VerbReset, "", nil)
}

// TestCard prints a test card for ribbon ("" means the printer's).
func (c *Client) TestCard(ctx context.Context, printer, ribbon string) (diag.TestCardResult, error) {
	var r diag.TestCardResult
	return r, c.diag(ctx, printer, VerbTestCard, ribbon, &r)
}

// Raw sends a raw printer command (e.g. "Rco;p") and returns the reply.
func (c *Client) Raw(ctx context.Context, printer, command string) (diag.RawResult, error) {
	var r diag.RawResult
	return r, c.diag(ctx, printer, VerbRaw, command, &r)
}

// Pause stops a printer taking new jobs; the card in it finishes.
func (c *Client) Pause(ctx context.Context, printer string) error {
	return c.diag(ctx, printer, VerbPause, "", nil)
}

// Resume lets a paused printer take jobs again.
func (c *Client) Resume(ctx context.Context, printer string) error {
	return c.diag(ctx, printer, VerbResume, "", nil)
}
