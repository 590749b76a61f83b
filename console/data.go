package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/service"
)

// Printer states as the console shows them.
const (
	StateReady    = "ready"
	StatePrinting = "printing"
	StatePaused   = "paused"
	StateJammed   = "jammed"
	StateOffline  = "offline"
	StateNotReady = "not ready"
)

// printerView is one printer on the printers page.
type printerView struct {
	queue.PrinterStatus
	State    string
	Problems []string
	Info     *drivers.Info
	Counters *drivers.Counters
	// Card is the card in progress: its number and issue, from the ledger.
	Card string
}

// stateOf derives a printer's state from its status.
func stateOf(ps queue.PrinterStatus, now time.Time) string {
	switch {
	case ps.Error != "" || now.Sub(ps.Updated) > 2*time.Minute || slices.Contains(ps.Problems, drivers.Offline):
		return StateOffline
	case slices.Contains(ps.Problems, drivers.CardJam):
		return StateJammed
	case ps.Printing != "":
		return StatePrinting
	case ps.Paused:
		return StatePaused
	case ps.Ready:
		return StateReady
	}
	return StateNotReady
}

// statuses returns the site's printers, sorted by name: what the
// answering daemon says of its own (the printers verb), and, for the
// printers of the site's other daemons, their last printer_status entry
// when this console may read the bucket.
func (s *Server) statuses(ctx context.Context) ([]queue.PrinterStatus, error) {
	byName := map[string]queue.PrinterStatus{}
	kvErr := errors.New("console: printer status: not readable here")
	if s.kvUntil.Load() < time.Now().UnixNano() {
		// A console user may not read the bucket: its requests are
		// refused by silence, so the wait is short and a failure is
		// remembered for a while.
		kctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		kvErr = s.readStatusBucket(kctx, byName)
		cancel()
		if kvErr != nil {
			s.kvUntil.Store(time.Now().Add(5 * time.Minute).UnixNano())
		}
	}
	live, err := s.client.Printers(ctx)
	if err != nil && kvErr != nil {
		return nil, fmt.Errorf("printers: %s", errText(err))
	}
	for _, ps := range live {
		if ps.Updated.IsZero() {
			ps.Updated = time.Now()
		}
		byName[ps.Printer] = ps
	}
	out := make([]queue.PrinterStatus, 0, len(byName))
	for _, ps := range byName {
		out = append(out, ps)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Printer < out[k].Printer })
	return out, nil
}

// readStatusBucket adds the site's printer_status entries to m.
func (s *Server) readStatusBucket(ctx context.Context, m map[string]queue.PrinterStatus) error {
	kv, err := s.js.KeyValue(ctx, queue.BucketStatus)
	if err != nil {
		return fmt.Errorf("console: printer status: %w", err)
	}
	w, err := kv.WatchFiltered(ctx, []string{s.cfg.Site + ".*"}, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("console: printer status: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				return nil
			}
			var ps queue.PrinterStatus
			if json.Unmarshal(e.Value(), &ps) == nil {
				m[ps.Printer] = ps
			}
		case <-ctx.Done():
			return fmt.Errorf("console: printer status: %w", ctx.Err())
		}
	}
}

// infoCache keeps each printer's info and counters: they are read through
// the printer (diag verbs wait for the card in it), so a page shows the
// last ones read and refreshes them when they are older than infoMaxAge.
type infoCache struct {
	mu sync.Mutex
	m  map[string]infoEntry
}

type infoEntry struct {
	info     *drivers.Info
	counters *drivers.Counters
	at       time.Time
}

const infoMaxAge = 30 * time.Second

func newInfoCache() *infoCache { return &infoCache{m: map[string]infoEntry{}} }

func (c *infoCache) get(name string) infoEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name]
}

func (c *infoCache) put(name string, e infoEntry) {
	c.mu.Lock()
	c.m[name] = e
	c.mu.Unlock()
}

// forget makes the next page read a printer's counters again (after a
// technician's action).
func (c *infoCache) forget(name string) {
	c.mu.Lock()
	e := c.m[name]
	e.at = time.Time{}
	c.m[name] = e
	c.mu.Unlock()
}

// printers builds the printers page: status, info and counters, the card
// in progress.
func (s *Server) printers(ctx context.Context) ([]printerView, error) {
	sts, err := s.statuses(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]printerView, len(sts))
	var wg sync.WaitGroup
	for i, ps := range sts {
		v := printerView{PrinterStatus: ps, State: stateOf(ps, now)}
		for _, p := range ps.Problems {
			v.Problems = append(v.Problems, p.String())
		}
		e := s.info.get(ps.Printer)
		v.Info, v.Counters = e.info, e.counters
		out[i] = v
		if now.Sub(e.at) > infoMaxAge && v.State != StateOffline && ps.Printing == "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.refreshInfo(ctx, &out[i])
			}()
		}
		if ps.Paused {
			// A paused worker's last status has no printer state (ribbon
			// 0, no problems): ask the printer.
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				if st, err := s.client.PrinterStatus(ctx, ps.Printer); err == nil {
					out[i].RibbonLeft, out[i].Problems = st.RibbonLeft, nil
					for _, p := range st.Problems {
						out[i].Problems = append(out[i].Problems, p.String())
					}
				}
			}()
		}
		if ps.Printing != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				if e, err := s.client.Status(ctx, ps.Printing); err == nil {
					out[i].Card = fmt.Sprintf("%s issue %d", e.CardNumber, e.Issue)
				}
			}()
		}
	}
	wg.Wait()
	return out, nil
}

// refreshInfo reads a printer's info and counters (at most 2 s: a printer
// busy with a card keeps the values read before).
func (s *Server) refreshInfo(ctx context.Context, v *printerView) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := s.client.Info(ctx, v.Printer)
	if err != nil {
		return
	}
	n, err := s.client.Counters(ctx, v.Printer)
	if err != nil {
		return
	}
	v.Info, v.Counters = &info, &n
	s.info.put(v.Printer, infoEntry{info: &info, counters: &n, at: time.Now()})
}

// poolView is one pool on the queue page.
type poolView struct {
	queue.PoolCount
	Queued   []jobView
	Printing []jobView
	Held     []jobView
}

// jobView is one job on the queue page: ids, card number and issue,
// printer, reason; never personal data (the console has none).
type jobView struct {
	JobID      string
	CardNumber string
	Issue      int
	Printer    string
	State      string
	Reason     string
	// Spoiled: the card was fed and spoiled (in the reject tray); the
	// only release is spoiled-destroyed, once a clerk destroyed it.
	Spoiled bool
	Since   time.Time
	Expires time.Time
}

// queueView builds the queue page from the jobs list verb: per pool the
// queued jobs, the cards printing and the held jobs.
func (s *Server) queueView(ctx context.Context, c *service.Client) ([]poolView, error) {
	l, err := c.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("jobs: %s", errText(err))
	}
	pools := map[string]*poolView{}
	pool := func(name string) *poolView {
		if name == "" {
			name = queue.DefaultPool
		}
		if pools[name] == nil {
			pools[name] = &poolView{PoolCount: queue.PoolCount{Pool: name}}
		}
		return pools[name]
	}
	for _, pc := range l.Pools {
		pool(pc.Pool).PoolCount = pc
	}
	for _, j := range l.Jobs {
		p := pool(j.Pool)
		jv := jobView{JobID: j.JobID, CardNumber: j.CardNumber, Printer: j.Printer, State: string(j.State), Since: j.Since}
		if j.State == queue.Queued {
			p.Queued = append(p.Queued, jv)
		} else {
			p.Printing = append(p.Printing, jv)
		}
	}
	for _, h := range l.Held {
		p := pool(h.Pool)
		p.Held = append(p.Held, jobView{JobID: h.JobID, CardNumber: h.CardNumber, Issue: h.Issue, Printer: h.Printer, Spoiled: h.Spoiled,
			State: string(queue.Held), Reason: h.Reason, Since: h.Since, Expires: h.Expires})
	}
	if sts, err := s.statuses(ctx); err == nil {
		for _, ps := range sts {
			pool(ps.Pool) // every pool with a printer shows, even empty
		}
	}
	if len(pools) == 0 {
		pool(queue.DefaultPool)
	}
	out := make([]poolView, 0, len(pools))
	for _, p := range pools {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Pool < out[k].Pool })
	return out, nil
}

// historyView is a card number's history from the audit trail.
type historyView struct {
	CardNumber string
	Records    []queue.AuditRecord
	// Chain is the verification of the site's audit chain: "verified (N
	// records)", or why it failed or could not be checked.
	Chain   string
	ChainOK bool
}

// history reads a card number's audit records and checks the site's chain.
func (s *Server) history(ctx context.Context, c *service.Client, number string) (historyView, error) {
	h := historyView{CardNumber: number}
	rs, err := c.History(ctx, number)
	if err != nil {
		return h, errors.New(errText(err))
	}
	h.Records = rs
	if len(s.cfg.AuditKeys) == 0 {
		h.Chain = "not checked: this console has no daemon keys (--audit-keys)"
		return h, nil
	}
	octx, cancel := context.WithTimeout(ctx, 2*time.Second)
	st, err := queue.OpenStores(octx, s.js)
	cancel()
	if err != nil {
		h.Chain = "not checked: this console cannot read the audit stream (printerd audit verify can)"
		return h, nil
	}
	n, err := queue.VerifyAudit(ctx, st, s.cfg.Site, s.cfg.AuditKeys)
	switch {
	case err != nil:
		h.Chain = "BROKEN: " + err.Error()
	default:
		h.Chain, h.ChainOK = fmt.Sprintf("verified: all %d records of site %s link up", n, s.cfg.Site), true
	}
	return h, nil
}

// validCardNumber is the job contract's card number rule, [A-Z0-9-]{4,24}.
func validCardNumber(s string) bool {
	if len(s) < 4 || len(s) > 24 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
