package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/queue/epoch"
)

// Names of the streams and buckets of DESIGN.md.
const (
	StreamJobs   = "CARD_JOBS"
	StreamHeld   = "CARD_HELD"
	StreamEvents = "CARD_EVENTS"
	StreamAudit  = "CARD_AUDIT"
	StreamQueued = "CARD_QUEUED"
	BucketLedger = "card_ledger"
	BucketIssues = "card_issues"
	BucketStatus = "printer_status"
)

// Defaults for SetupConfig.
const (
	DefaultHeldRetention  = 72 * time.Hour
	DefaultJobsMaxAge     = 7 * 24 * time.Hour
	DefaultDuplicates     = time.Hour
	DefaultStatusInterval = 5 * time.Second
)

// SetupConfig tunes Setup. The zero value gives DESIGN.md's defaults.
type SetupConfig struct {
	// Replicas of every stream and bucket; 0 means 1.
	Replicas int
	// Memory puts every stream in memory instead of files (tests,
	// benchmarks); the default, false, is file storage.
	Memory bool
	// HeldRetention is how long CARD_HELD keeps a job body; 0 means 72h.
	HeldRetention time.Duration
	// JobsMaxAge is how long CARD_JOBS keeps a job nobody printed (a pool
	// without printers, a daemon gone for good), so that its personal data
	// does not stay for ever; 0 means DefaultJobsMaxAge (7 days). Epoch
	// keys live at least this long after their epoch (crypto-shredding).
	JobsMaxAge time.Duration
	// Duplicates is CARD_JOBS's duplicate window; 0 means 1h, less than
	// 1h is raised to 1h.
	Duplicates time.Duration
	// StatusTTL is printer_status's TTL; 0 means 3x DefaultStatusInterval.
	StatusTTL time.Duration
}

// Stores are handles on the streams and buckets Setup made.
type Stores struct {
	JS     jetstream.JetStream
	Jobs   jetstream.Stream
	Held   jetstream.Stream
	Events jetstream.Stream
	Audit  jetstream.Stream
	Queued jetstream.Stream // headers of CARD_JOBS messages, no bodies (queued.go)
	Ledger jetstream.KeyValue
	Issues jetstream.KeyValue
	Status jetstream.KeyValue
	// DaemonKeys is the daemon_keys bucket of epoch key announcements
	// (queue/epoch).
	DaemonKeys jetstream.KeyValue
}

// Setup creates or updates, idempotently, the streams and buckets of
// DESIGN.md and returns handles on them. It is safe to run at every start
// and from many daemons at once.
func Setup(ctx context.Context, js jetstream.JetStream, cfg SetupConfig) (*Stores, error) {
	if js == nil {
		return nil, fmt.Errorf("queue: setup: no JetStream context")
	}
	cfg = cfg.withDefaults()
	storage := jetstream.FileStorage
	if cfg.Memory {
		storage = jetstream.MemoryStorage
	}
	st := &Stores{JS: js}
	var err error
	streams := []struct {
		dst *jetstream.Stream
		cfg jetstream.StreamConfig
	}{
		{&st.Jobs, jetstream.StreamConfig{
			Name: StreamJobs, Description: "printerd: approved card jobs",
			Subjects: []string{"cards.jobs.>"}, Retention: jetstream.WorkQueuePolicy,
			Storage: storage, Replicas: cfg.Replicas, Duplicates: min(cfg.Duplicates, cfg.JobsMaxAge),
			MaxAge:    cfg.JobsMaxAge,
			RePublish: queuedRePublish,
		}},
		{&st.Queued, queuedStream(storage, cfg.Replicas, cfg.JobsMaxAge)},
		{&st.Held, jetstream.StreamConfig{
			Name: StreamHeld, Description: "printerd: held job bodies awaiting a clerk",
			Subjects: []string{"cards.held.>"}, Storage: storage, Replicas: cfg.Replicas,
			MaxAge: cfg.HeldRetention, MaxMsgsPerSubject: 1, Duplicates: min(2*time.Minute, cfg.HeldRetention),
		}},
		{&st.Events, jetstream.StreamConfig{
			Name: StreamEvents, Description: "printerd: job status events (no personal data)",
			Subjects: []string{"cards.events.>"}, Storage: storage, Replicas: cfg.Replicas,
		}},
		{&st.Audit, jetstream.StreamConfig{
			Name: StreamAudit, Description: "printerd: hash-chained audit records (no personal data)",
			Subjects: []string{"cards.audit.>"}, Storage: storage, Replicas: cfg.Replicas,
			DenyDelete: true, DenyPurge: true,
		}},
	}
	for _, s := range streams {
		if *s.dst, err = js.CreateOrUpdateStream(ctx, s.cfg); err != nil {
			return nil, fmt.Errorf("queue: setup stream %s: %w", s.cfg.Name, err)
		}
	}
	buckets := []struct {
		dst *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&st.Ledger, jetstream.KeyValueConfig{Bucket: BucketLedger, Description: "printerd: issuance state per job",
			History: 8, Storage: storage, Replicas: cfg.Replicas}},
		{&st.Issues, jetstream.KeyValueConfig{Bucket: BucketIssues, Description: "printerd: highest issue per card number",
			History: 8, Storage: storage, Replicas: cfg.Replicas}},
		{&st.Status, jetstream.KeyValueConfig{Bucket: BucketStatus, Description: "printerd: printer status",
			TTL: cfg.StatusTTL, Storage: storage, Replicas: cfg.Replicas}},
	}
	for _, b := range buckets {
		if *b.dst, err = js.CreateOrUpdateKeyValue(ctx, b.cfg); err != nil {
			return nil, fmt.Errorf("queue: setup bucket %s: %w", b.cfg.Bucket, err)
		}
	}
	if st.DaemonKeys, err = epoch.SetupBucket(ctx, js, storage, cfg.Replicas); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return st, nil
}

func (c SetupConfig) withDefaults() SetupConfig {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.HeldRetention <= 0 {
		c.HeldRetention = DefaultHeldRetention
	}
	if c.JobsMaxAge <= 0 {
		c.JobsMaxAge = DefaultJobsMaxAge
	}
	if c.Duplicates < DefaultDuplicates {
		c.Duplicates = DefaultDuplicates
	}
	if c.StatusTTL <= 0 {
		c.StatusTTL = 3 * DefaultStatusInterval
	}
	return c
}

// JobsSubject is the subject jobs for a site and pool are published to.
func JobsSubject(site, pool string) string { return "cards.jobs." + site + "." + pool }

// HeldSubject is the CARD_HELD subject of a held job.
func HeldSubject(site, jobID string) string { return "cards.held." + site + "." + jobID }

// EventSubject is the CARD_EVENTS subject of a job's events.
func EventSubject(jobID string) string { return "cards.events." + jobID }

// AuditSubject is the CARD_AUDIT subject of an action at a site.
func AuditSubject(site, action string) string { return "cards.audit." + site + "." + action }

// StatusKey is the printer_status key of a printer.
func StatusKey(site, printer string) string { return site + "." + printer }

// OpenStores binds to the streams and buckets a daemon's Setup made,
// without creating or changing them: for clerk and audit tools that must
// not alter the daemon's retention settings.
func OpenStores(ctx context.Context, js jetstream.JetStream) (*Stores, error) {
	if js == nil {
		return nil, fmt.Errorf("queue: open: no JetStream context")
	}
	st := &Stores{JS: js}
	var err error
	for _, s := range []struct {
		dst  *jetstream.Stream
		name string
	}{{&st.Jobs, StreamJobs}, {&st.Held, StreamHeld}, {&st.Events, StreamEvents}, {&st.Audit, StreamAudit}} {
		if *s.dst, err = js.Stream(ctx, s.name); err != nil {
			return nil, fmt.Errorf("queue: open stream %s (is a printerd daemon set up on this NATS?): %w", s.name, err)
		}
	}
	for _, b := range []struct {
		dst  *jetstream.KeyValue
		name string
	}{{&st.Ledger, BucketLedger}, {&st.Issues, BucketIssues}, {&st.Status, BucketStatus}} {
		if *b.dst, err = js.KeyValue(ctx, b.name); err != nil {
			return nil, fmt.Errorf("queue: open bucket %s (is a printerd daemon set up on this NATS?): %w", b.name, err)
		}
	}
	return st, nil
}

// OpenAudit binds to CARD_AUDIT only, for auditors (who may read nothing
// else): the returned Stores has JS and Audit set.
func OpenAudit(ctx context.Context, js jetstream.JetStream) (*Stores, error) {
	if js == nil {
		return nil, fmt.Errorf("queue: open: no JetStream context")
	}
	a, err := js.Stream(ctx, StreamAudit)
	if err != nil {
		return nil, fmt.Errorf("queue: open stream %s (is a printerd daemon set up on this NATS, and are you an auditor?): %w", StreamAudit, err)
	}
	return &Stores{JS: js, Audit: a}, nil
}

// eraseHeld overwrites every CARD_HELD message on subject (one job's held
// copies) with SecureDeleteMsg: a purge only unlinks messages, and their
// bytes, the person's data, would stay in the block files. Its errors carry
// no package prefix; the caller wraps them.
func (s *Stores) eraseHeld(ctx context.Context, subject string) error {
	for {
		m, err := s.Held.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("erase held copy: %w", err)
		}
		if err := s.Held.SecureDeleteMsg(ctx, m.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("erase held copy: %w", err)
		}
	}
}
