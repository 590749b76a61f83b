package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/micro"
)

// Reply is the JSON reply of every printerd service request.
type Reply struct {
	Result any    `json:"result"`
	Error  string `json:"error"`
}

// DiagRequest is the request body of printerd.diag.<site>.<printer>.<verb>.
type DiagRequest struct {
	Arg string `json:"arg,omitempty"`
}

// JobsRequest is the request body of printerd.jobs.<site>.<verb>; each verb
// uses the fields doc.go lists for it.
type JobsRequest struct {
	JobID      string `json:"job_id,omitempty"`
	CardNumber string `json:"card_number,omitempty"`
	Operator   string `json:"operator,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// DiagSubject is the service subject of a diag verb on a printer.
func DiagSubject(site, printer, verb string) string {
	return "printerd.diag." + site + "." + printer + "." + verb
}

// JobsServiceSubject is the service subject of a jobs verb.
func JobsServiceSubject(site, verb string) string { return "printerd.jobs." + site + "." + verb }

// serviceTimeout bounds one service request.
const serviceTimeout = 2 * time.Minute

// addServices starts the diag and jobs micro services.
func (d *Daemon) addServices() error {
	site := d.cfg.Site
	diag, err := micro.AddService(d.cfg.NC, micro.Config{
		Name: "printerd-diag", Version: "1.0.0",
		Description: "printerd technician diagnostics, site " + site,
	})
	if err != nil {
		return fmt.Errorf("queue: diag service: %w", err)
	}
	d.services = append(d.services, diag)
	for _, w := range d.workers {
		w := w
		err := diag.AddEndpoint(w.p.Name, micro.HandlerFunc(func(r micro.Request) {
			go d.serve(r, func(ctx context.Context) (any, error) { return d.diag(ctx, w, r) })
		}), micro.WithEndpointSubject(DiagSubject(site, w.p.Name, "*")))
		if err != nil {
			return fmt.Errorf("queue: diag endpoint %s: %w", w.p.Name, err)
		}
	}
	jobs, err := micro.AddService(d.cfg.NC, micro.Config{
		Name: "printerd-jobs", Version: "1.0.0",
		Description: "printerd clerk job control, site " + site,
	})
	if err != nil {
		return fmt.Errorf("queue: jobs service: %w", err)
	}
	d.services = append(d.services, jobs)
	err = jobs.AddEndpoint("jobs", micro.HandlerFunc(func(r micro.Request) {
		go d.serve(r, func(ctx context.Context) (any, error) { return d.jobs(ctx, r) })
	}), micro.WithEndpointSubject(JobsServiceSubject(site, "*")))
	if err != nil {
		return fmt.Errorf("queue: jobs endpoint: %w", err)
	}
	return nil
}

// serve runs one request and replies {"result","error"}.
func (d *Daemon) serve(r micro.Request, fn func(ctx context.Context) (any, error)) {
	ctx, cancel := context.WithTimeout(d.runCtx, serviceTimeout)
	defer cancel()
	res, err := fn(ctx)
	rep := Reply{Result: res}
	if err != nil {
		rep = Reply{Error: err.Error()}
	}
	if err := r.RespondJSON(rep); err != nil {
		d.log.Warn("queue: service reply failed", "subject", r.Subject(), "err", err)
	}
}

// verbOf returns the last token of a request subject.
func verbOf(subject string) string {
	return subject[strings.LastIndexByte(subject, '.')+1:]
}

// decodeRequest decodes a JSON request strictly; an empty body is {}.
func decodeRequest(data []byte, v any) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("queue: request: must be a JSON object with the verb's fields: %w", err)
	}
	return nil
}

// diag runs a diag verb on a worker's printer, never during a card.
func (d *Daemon) diag(ctx context.Context, w *worker, r micro.Request) (any, error) {
	verb := verbOf(r.Subject())
	var req DiagRequest
	if err := decodeRequest(r.Data(), &req); err != nil {
		return nil, err
	}
	switch verb {
	case "pause":
		w.setPaused(true)
		return map[string]any{"printer": w.p.Name, "paused": true}, nil
	case "resume":
		w.setPaused(false)
		return map[string]any{"printer": w.p.Name, "paused": false}, nil
	}
	if d.cfg.Diag == nil {
		return nil, fmt.Errorf("queue: diag %s: diagnostics are not configured in this daemon", verb)
	}
	// Wait for the card in the printer: a diag verb never interrupts one.
	locked := make(chan struct{})
	go func() { w.dev.Lock(); close(locked) }()
	select {
	case <-locked:
	case <-ctx.Done():
		go func() { <-locked; w.dev.Unlock() }()
		return nil, fmt.Errorf("queue: diag %s: printer busy: %w", verb, ctx.Err())
	}
	defer w.dev.Unlock()
	return d.cfg.Diag(ctx, w.p.Dev, verb, req.Arg)
}

// jobs runs a clerk verb.
func (d *Daemon) jobs(ctx context.Context, r micro.Request) (any, error) {
	verb := verbOf(r.Subject())
	var req JobsRequest
	if err := decodeRequest(r.Data(), &req); err != nil {
		return nil, err
	}
	c := d.clerk
	switch verb {
	case "status":
		return c.Status(ctx, req.JobID)
	case "held":
		return c.Held(ctx)
	case "release":
		return c.Release(ctx, req.JobID, req.Operator)
	case "cancel":
		return c.Cancel(ctx, req.JobID, req.Operator, req.Reason)
	case "history":
		return c.History(ctx, req.CardNumber)
	}
	return nil, errors.New("queue: jobs: unknown verb " + verb + ": want status, held, release, cancel or history")
}
