package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/queue/job"
)

// The queue index: CARD_JOBS republishes the headers of every job it
// stores, without the body, to cards.queued.<site>.<pool>, and CARD_QUEUED
// keeps them. A clerk's listing reads that index and CARD_JOBS's state
// (which sequences are still there), never a job body: the personal data
// stays where only a worker reads it.
var queuedRePublish = &jetstream.RePublish{
	Source:      "cards.jobs.*.*",
	Destination: "cards.queued.{{wildcard(1)}}.{{wildcard(2)}}",
	HeadersOnly: true,
}

// queuedStream is CARD_QUEUED's configuration: it keeps a job's headers
// as long as CARD_JOBS may keep the job (jobsMaxAge), so that every
// queued job is listed.
func queuedStream(storage jetstream.StorageType, replicas int, jobsMaxAge time.Duration) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name: StreamQueued, Description: "printerd: headers of queued jobs (no bodies), for clerks' listings",
		Subjects: []string{"cards.queued.>"}, Storage: storage, Replicas: replicas, MaxAge: jobsMaxAge,
	}
}

// Job states a listing shows beside the ledger's.
const (
	// Queued is a job in CARD_JOBS that no worker has claimed yet.
	Queued State = "queued"
)

// ListedJob is one job of a listing: queued or in a printer. It carries no
// personal data.
type ListedJob struct {
	JobID      string    `json:"job_id"`
	Pool       string    `json:"pool"`
	State      State     `json:"state"` // queued, claimed or printing
	Seq        uint64    `json:"seq"`   // sequence in CARD_JOBS
	Since      time.Time `json:"since"` // when it was published
	CardNumber string    `json:"card_number,omitempty"`
	Printer    string    `json:"printer,omitempty"`
}

// PoolCount sums up one pool of a listing.
type PoolCount struct {
	Pool     string `json:"pool"`
	Queued   int    `json:"queued"`   // in CARD_JOBS, not claimed
	Printing int    `json:"printing"` // claimed or printing
	Held     int    `json:"held"`
	// Oldest is when the oldest job still in CARD_JOBS was published.
	Oldest time.Time `json:"oldest,omitzero"`
}

// JobList is a site's jobs as a clerk sees them: per pool, the jobs in
// the queue or a printer, and the held jobs.
type JobList struct {
	Pools []PoolCount `json:"pools"`
	Jobs  []ListedJob `json:"jobs"`
	Held  []HeldJob   `json:"held"`
}

// queuedJobs returns the jobs of the site still in CARD_JOBS, oldest
// first, from the queue index and the stream's state (no body is read),
// with the ledger's state for those a worker claimed.
func (c *Clerk) queuedJobs(ctx context.Context) ([]ListedJob, error) {
	info, err := c.st.Jobs.Info(ctx, jetstream.WithDeletedDetails(true))
	if err != nil {
		return nil, fmt.Errorf("queue: list: %w", err)
	}
	st := info.State
	gone := map[uint64]bool{}
	for _, s := range st.Deleted {
		gone[s] = true
	}
	present := func(seq uint64) bool { return st.Msgs > 0 && seq >= st.FirstSeq && seq <= st.LastSeq && !gone[seq] }
	prefix := "cards.queued." + c.site + "."
	cons, err := c.st.Queued.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{prefix + "*"}})
	if err != nil {
		return nil, fmt.Errorf("queue: list: %w", err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue: list: %w", err)
	}
	var out []ListedJob
	for left := ci.NumPending; left > 0; {
		batch, err := cons.Fetch(int(min(left, 256)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("queue: list: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if lj, ok := listedOf(m, prefix); ok && present(lj.Seq) {
				out = append(out, lj)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("queue: list: %w", err)
		}
		if n == 0 {
			break
		}
		left -= uint64(n)
	}
	for i := range out {
		e, err := c.st.ledger().get(ctx, out[i].JobID)
		if err == nil {
			out[i].State, out[i].CardNumber, out[i].Printer = e.State, e.CardNumber, e.Printer
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Seq < out[k].Seq })
	return out, nil
}

// listedOf reads one queue index entry: its headers only (the index has
// no bodies).
func listedOf(m jetstream.Msg, prefix string) (ListedJob, bool) {
	h := m.Headers()
	seq, err := strconv.ParseUint(h.Get(jetstream.SequenceHeader), 10, 64)
	id := baseID(h.Get(job.HeaderMsgID))
	if err != nil || !job.ValidID(id) {
		return ListedJob{}, false
	}
	since, _ := time.Parse(time.RFC3339Nano, h.Get(jetstream.TimeStampHeaer))
	return ListedJob{JobID: id, Pool: strings.TrimPrefix(m.Subject(), prefix), State: Queued, Seq: seq, Since: since.UTC()}, true
}

// List returns the site's jobs per pool: queued (not yet claimed),
// claimed or printing, and held. It reads no job body from CARD_JOBS.
func (c *Clerk) List(ctx context.Context) (JobList, error) {
	jobs, err := c.queuedJobs(ctx)
	if err != nil {
		return JobList{}, err
	}
	held, err := c.Held(ctx)
	if err != nil {
		return JobList{}, err
	}
	pools := map[string]*PoolCount{}
	pool := func(name string) *PoolCount {
		if pools[name] == nil {
			pools[name] = &PoolCount{Pool: name}
		}
		return pools[name]
	}
	for _, j := range jobs {
		p := pool(j.Pool)
		if j.State == Queued {
			p.Queued++
		} else {
			p.Printing++
		}
		if p.Oldest.IsZero() || j.Since.Before(p.Oldest) {
			p.Oldest = j.Since
		}
	}
	for _, h := range held {
		pool(h.Pool).Held++
	}
	l := JobList{Jobs: jobs, Held: held, Pools: []PoolCount{}}
	if l.Jobs == nil {
		l.Jobs = []ListedJob{}
	}
	for _, p := range pools {
		l.Pools = append(l.Pools, *p)
	}
	slices.SortFunc(l.Pools, func(a, b PoolCount) int { return strings.Compare(a.Pool, b.Pool) })
	return l, nil
}

// cancelQueued cancels a job no worker has claimed: its ledger entry is
// created cancelled first (so a worker that fetches it meanwhile drops it),
// then its message in CARD_JOBS is overwritten and deleted
// (SecureDeleteMsg, as for every finished job), then audit and event.
// Once jobs are sealed (contract v2) the body is unreadable after its
// epoch key is destroyed, and the deletion simply frees the space.
func (c *Clerk) cancelQueued(ctx context.Context, jobID, operator, reason string) (Entry, error) {
	jobs, err := c.queuedJobs(ctx)
	if err != nil {
		return Entry{}, err
	}
	i := slices.IndexFunc(jobs, func(j ListedJob) bool { return j.JobID == jobID && j.State == Queued })
	if i < 0 {
		return Entry{}, fmt.Errorf("queue: cancel %s: not queued in site %s, held or known to the ledger: %w", jobID, c.site, ErrNotFound)
	}
	q := jobs[i]
	e, err := c.st.ledger().create(ctx, jobID, Entry{State: Cancelled, Reason: reason, Updated: c.now().UTC()})
	if errors.Is(err, ErrConflict) {
		return Entry{}, fmt.Errorf("queue: cancel %s: a printer claimed it just now; ask for its status: %w", jobID, ErrConflict)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("queue: cancel %s: %w", jobID, err)
	}
	if err := c.st.Jobs.SecureDeleteMsg(ctx, q.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return e, fmt.Errorf("queue: cancel %s: cancelled, but its queued message was not erased: %w", jobID, err)
	}
	if _, err := c.audit.Append(ctx, AuditRecord{Action: AuditCancelled, JobID: jobID, Operator: operator, Reason: reason, At: c.now().UTC()}); err != nil {
		return e, err
	}
	if err := c.st.publishEvent(ctx, Event{JobID: jobID, State: EventCancelled, Reason: reason, At: c.now().UTC()}); err != nil {
		return e, err
	}
	return e, nil
}
