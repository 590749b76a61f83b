package queue

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/internal/trust"
)

// Audit actions (AuditRecord.Action).
const (
	AuditPrinted   = "printed"   // a card was printed
	AuditSpoiled   = "spoiled"   // a card was fed and spoiled; the job is held
	AuditHeld      = "held"      // a card's outcome is unknown (daemon died mid-card, or a failure that may have fed a card); the job is held
	AuditRejected  = "rejected"  // a job was refused: approval, contract, issue rule or layout
	AuditReleased  = "released"  // a clerk released a held job for printing again
	AuditCancelled = "cancelled" // a clerk cancelled a held job
	AuditDiag      = "diag"      // a technician ran a verb that changes, or may change, a printer (Verb, Command)
	AuditRefused   = "refused"   // a technician's raw command was refused (not read-only, allow-raw off)
)

// AuditRecord is one record of a daemon's hash chain in CARD_AUDIT, on
// cards.audit.<site>.<daemon>. It holds no name, birth date, gender or
// photo.
//
// Hash is the hex SHA-256 over Prev (hex text) followed by the record's
// canonical bytes: its JSON encoding with Hash and Sig empty. Seq counts
// the daemon's records from 1; Prev is the Hash of record Seq-1 ("" for
// the first). Sig is the base64 Ed25519 signature, by the key whose key id
// is Daemon, over AuditSigLabel followed by Hash (hex text).
type AuditRecord struct {
	Seq           uint64    `json:"seq"`
	Prev          string    `json:"prev"`
	Hash          string    `json:"hash,omitempty"`
	Sig           string    `json:"sig,omitempty"`
	Site          string    `json:"site"`
	Daemon        string    `json:"daemon"`
	Action        string    `json:"action"`
	JobID         string    `json:"job_id,omitempty"`
	CardNumber    string    `json:"card_number,omitempty"`
	Issue         int       `json:"issue,omitempty"`
	Printer       string    `json:"printer,omitempty"`
	PrinterSerial string    `json:"printer_serial,omitempty"`
	Operator      string    `json:"operator,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	Verb          string    `json:"verb,omitempty"`
	Command       string    `json:"command,omitempty"`
	At            time.Time `json:"at"`
}

// AuditSigLabel starts the input of every audit record signature.
const AuditSigLabel = "printerd-audit-v1\n"

// ComputeHash returns the record's hash from its Prev and other fields.
func (r AuditRecord) ComputeHash() string {
	r.Hash, r.Sig = "", ""
	b, _ := json.Marshal(r)
	h := sha256.New()
	h.Write([]byte(r.Prev))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// sign sets Hash and Sig.
func (r *AuditRecord) sign(key ed25519.PrivateKey) {
	r.Hash = r.ComputeHash()
	r.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(AuditSigLabel+r.Hash)))
}

// checkSig verifies Sig with pub over the record's recomputed hash.
func (r AuditRecord) checkSig(pub ed25519.PublicKey) bool {
	sig, err := base64.StdEncoding.DecodeString(r.Sig)
	return err == nil && len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, []byte(AuditSigLabel+r.ComputeHash()), sig)
}

// ErrChainBroken is matched by the errors for an audit chain that was
// altered: a forged, changed, missing or reordered record, a record signed
// by an unknown key, a chain truncated or forked.
var ErrChainBroken = errors.New("queue: audit chain broken")

// auditFilter is the subject filter of all of a site's chains.
func auditFilter(site string) string { return "cards.audit." + site + ".>" }

// AuditSigner is a daemon's audit key: Ed25519, the same long-term key
// that signs its epoch keys (queue/epoch.Signer). KID (keyfile.KIDHex) names
// the daemon's chain.
type AuditSigner struct {
	Key ed25519.PrivateKey
	KID string
}

// NewAuditSigner returns the signer of key.
func NewAuditSigner(key ed25519.PrivateKey) (AuditSigner, error) {
	kid, err := keyfile.KIDHex(key.Public())
	if err != nil {
		return AuditSigner{}, fmt.Errorf("queue: audit key: %w", err)
	}
	return AuditSigner{Key: key, KID: kid}, nil
}

// auditHead is the head of a daemon's chain as the daemon last wrote it:
// kept outside the stream (Config.AuditHeadFile), so that a deleted,
// truncated or replaced stream is noticed.
type auditHead struct {
	Site      string `json:"site"`
	Daemon    string `json:"daemon"`
	Seq       uint64 `json:"seq"`
	Hash      string `json:"hash"`
	StreamSeq uint64 `json:"stream_seq"`
}

// auditLog appends to one daemon's chain. It is the chain's only writer:
// appends are published with the expected last sequence of the chain's
// subject, so anything else written there, or a stream deleted or
// replaced, breaks the chain instead of being chained onto. A broken chain
// is reported by Err until the daemon restarts, and workers take no job
// meanwhile.
type auditLog struct {
	st       *Stores
	site     string
	signer   AuditSigner
	headFile string // "" keeps no head file

	mu     sync.Mutex
	loaded bool
	seq    uint64 // chain Seq of the head
	hash   string // Hash of the head
	sseq   uint64 // stream sequence of the head

	broken  error
	onBreak func(error)
}

func newAuditLog(st *Stores, site string, signer AuditSigner, headFile string) *auditLog {
	return &auditLog{st: st, site: site, signer: signer, headFile: headFile}
}

// subject is the daemon's chain subject.
func (a *auditLog) subject() string { return AuditSubject(a.site, a.signer.KID) }

// Err returns why the chain is broken, or nil.
func (a *auditLog) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.broken
}

// breakChain records that the chain is broken (the first reason stays).
// Callers hold a.mu.
func (a *auditLog) breakChain(err error) error {
	if a.broken == nil {
		a.broken = err
		if a.onBreak != nil {
			go a.onBreak(err)
		}
	}
	return a.broken
}

// streamHead reads the last record of the chain in the stream; ok is false
// when the chain has none.
func (a *auditLog) streamHead(ctx context.Context) (auditHead, AuditRecord, bool, error) {
	msg, err := a.st.Audit.GetLastMsgForSubject(ctx, a.subject())
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return auditHead{}, AuditRecord{}, false, nil
	}
	if err != nil {
		return auditHead{}, AuditRecord{}, false, fmt.Errorf("queue: audit head: %w", err)
	}
	r, err := decodeRecord(msg.Data)
	if err != nil {
		return auditHead{}, AuditRecord{}, false, fmt.Errorf("%w: stream seq %d: %v", ErrChainBroken, msg.Sequence, err)
	}
	return auditHead{Site: a.site, Daemon: a.signer.KID, Seq: r.Seq, Hash: r.Hash, StreamSeq: msg.Sequence}, r, true, nil
}

// readHeadFile reads the head file; ok is false when there is none.
func (a *auditLog) readHeadFile() (auditHead, bool, error) {
	if a.headFile == "" {
		return auditHead{}, false, nil
	}
	b, err := os.ReadFile(a.headFile)
	if errors.Is(err, os.ErrNotExist) {
		return auditHead{}, false, nil
	}
	if err != nil {
		return auditHead{}, false, fmt.Errorf("queue: audit head file: %w", err)
	}
	var h auditHead
	if err := json.Unmarshal(b, &h); err != nil {
		return auditHead{}, false, fmt.Errorf("queue: audit head file %s: %w", a.headFile, err)
	}
	return h, true, nil
}

// writeHeadFile records the head outside the stream, synced.
func (a *auditLog) writeHeadFile() error {
	if a.headFile == "" {
		return nil
	}
	b, _ := json.Marshal(auditHead{Site: a.site, Daemon: a.signer.KID, Seq: a.seq, Hash: a.hash, StreamSeq: a.sseq})
	if err := trust.WriteFileAtomic(a.headFile, b, 0o600); err != nil {
		return fmt.Errorf("queue: audit head file: %w", err)
	}
	return nil
}

// Open compares the chain in the stream with the head file and loads the
// head. A chain missing, shorter than the file says, or with another
// record at the file's head breaks the chain (the error wraps
// ErrChainBroken). A chain one record ahead of the file (a crash between
// the append and the file write) is accepted when that record links to
// the file's head and carries the daemon's signature.
func (a *auditLog) Open(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.open(ctx)
}

// open is Open with a.mu held.
func (a *auditLog) open(ctx context.Context) error {
	file, haveFile, err := a.readHeadFile()
	if err != nil {
		return err
	}
	head, last, haveChain, err := a.streamHead(ctx)
	if errors.Is(err, ErrChainBroken) {
		return a.breakChain(err)
	}
	if err != nil {
		return err
	}
	pub := a.signer.Key.Public().(ed25519.PublicKey)
	switch {
	case haveFile && (file.Site != a.site || file.Daemon != a.signer.KID):
		return fmt.Errorf("queue: audit head file %s is of site %s, daemon %s, not this daemon (site %s, key %s): restore this daemon's key or state directory", a.headFile, file.Site, file.Daemon, a.site, a.signer.KID)
	case haveFile && file.Seq > 0 && !haveChain:
		return a.breakChain(fmt.Errorf("%w: the chain of daemon %s is missing from %s (the head file %s says %d records): was the stream deleted or replaced?", ErrChainBroken, a.signer.KID, StreamAudit, a.headFile, file.Seq))
	case haveFile && head.Seq < file.Seq:
		return a.breakChain(fmt.Errorf("%w: the chain of daemon %s ends at record %d, the head file %s says %d: truncated", ErrChainBroken, a.signer.KID, head.Seq, a.headFile, file.Seq))
	case haveFile && head.Seq == file.Seq && head.Hash != file.Hash:
		return a.breakChain(fmt.Errorf("%w: record %d of daemon %s differs from the head file %s: forked", ErrChainBroken, head.Seq, a.signer.KID, a.headFile))
	case haveFile && head.Seq > file.Seq && (head.Seq != file.Seq+1 || last.Prev != file.Hash):
		return a.breakChain(fmt.Errorf("%w: the chain of daemon %s is at record %d, the head file %s at %d: records were added by something else", ErrChainBroken, a.signer.KID, head.Seq, a.headFile, file.Seq))
	case haveChain && (last.Hash != last.ComputeHash() || !last.checkSig(pub)):
		return a.breakChain(fmt.Errorf("%w: the last record of daemon %s is not signed by its key", ErrChainBroken, a.signer.KID))
	}
	if haveChain {
		a.seq, a.hash, a.sseq = head.Seq, head.Hash, head.StreamSeq
	}
	a.loaded = true
	return a.writeHeadFile()
}

// Check compares the stream's chain head with the one last written and
// breaks the chain if the stream lost it (deleted, purged, replaced).
func (a *auditLog) Check(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.broken != nil || !a.loaded {
		return a.broken
	}
	head, _, ok, err := a.streamHead(ctx)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return a.breakChain(fmt.Errorf("%w: stream %s is gone", ErrChainBroken, StreamAudit))
	case err != nil && !errors.Is(err, ErrChainBroken):
		return nil // a store hiccup, not evidence of tampering
	case err != nil:
		return a.breakChain(err)
	case !ok && a.seq > 0:
		return a.breakChain(fmt.Errorf("%w: the chain of daemon %s is missing from %s", ErrChainBroken, a.signer.KID, StreamAudit))
	case ok && (head.Seq != a.seq || head.Hash != a.hash || head.StreamSeq != a.sseq):
		return a.breakChain(fmt.Errorf("%w: the head of daemon %s's chain in %s is record %d, not %d as written", ErrChainBroken, a.signer.KID, StreamAudit, head.Seq, a.seq))
	}
	return nil
}

// Append chains rec to the daemon's audit log, signs and publishes it,
// then records the new head in the head file. It fills Seq, Prev, Hash,
// Sig, Site, Daemon and At (if zero) and returns the record written.
func (a *auditLog) Append(ctx context.Context, rec AuditRecord) (AuditRecord, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.broken != nil {
		return AuditRecord{}, a.broken
	}
	if !a.loaded {
		if err := a.open(ctx); err != nil {
			return AuditRecord{}, err
		}
	}
	rec.Site, rec.Daemon = a.site, a.signer.KID
	if rec.At.IsZero() {
		rec.At = time.Now().UTC()
	}
	rec.Seq, rec.Prev = a.seq+1, a.hash
	rec.sign(a.signer.Key)
	b, _ := json.Marshal(rec)
	ack, err := a.st.JS.Publish(ctx, a.subject(), b, jetstream.WithExpectLastSequenceForSubject(a.sseq, a.subject()))
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		return AuditRecord{}, a.breakChain(fmt.Errorf("%w: the chain of daemon %s in %s is not at record %d as written: deleted, replaced or written by something else", ErrChainBroken, a.signer.KID, StreamAudit, a.seq))
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamNotFound:
		return AuditRecord{}, a.breakChain(fmt.Errorf("%w: stream %s is gone: %v", ErrChainBroken, StreamAudit, err))
	case err != nil:
		return AuditRecord{}, fmt.Errorf("queue: audit append %s: %w", rec.Action, err)
	}
	a.seq, a.hash, a.sseq = rec.Seq, rec.Hash, ack.Sequence
	if err := a.writeHeadFile(); err != nil {
		return rec, err
	}
	return rec, nil
}

// decodeRecord parses one stored record strictly.
func decodeRecord(b []byte) (AuditRecord, error) {
	var r AuditRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return AuditRecord{}, fmt.Errorf("not an audit record: %v", err)
	}
	return r, nil
}

// walkAudit calls fn for every message of a site's chains, in stream order.
func walkAudit(ctx context.Context, st *Stores, site string, fn func(raw []byte, subject string, streamSeq uint64) error) error {
	last, err := st.Audit.GetLastMsgForSubject(ctx, auditFilter(site))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue: audit: %w", err)
	}
	cons, err := st.JS.OrderedConsumer(ctx, StreamAudit, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{auditFilter(site)},
	})
	if err != nil {
		return fmt.Errorf("queue: audit reader: %w", err)
	}
	for {
		done, err := walkBatch(ctx, cons, last.Sequence, fn)
		if err != nil || done {
			return err
		}
	}
}

// walkBatch reads one batch of audit messages; done when lastSeq was seen.
func walkBatch(ctx context.Context, cons jetstream.Consumer, lastSeq uint64, fn func(raw []byte, subject string, streamSeq uint64) error) (bool, error) {
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	batch, err := cons.Fetch(256, jetstream.FetchContext(fctx))
	if err != nil {
		return false, fmt.Errorf("queue: audit read: %w", err)
	}
	n := 0
	for m := range batch.Messages() {
		n++
		md, err := m.Metadata()
		if err != nil {
			return false, fmt.Errorf("queue: audit read: %w", err)
		}
		if err := fn(m.Data(), m.Subject(), md.Sequence.Stream); err != nil {
			return false, err
		}
		if md.Sequence.Stream >= lastSeq {
			return true, nil
		}
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
		return false, fmt.Errorf("queue: audit read: %w", err)
	}
	if n == 0 {
		return false, fmt.Errorf("queue: audit read: stream ended before sequence %d", lastSeq)
	}
	return false, nil
}

// ExportedRecord is one CARD_AUDIT message as `printerd audit export`
// writes it (one JSON object a line): its subject, stream sequence and
// the record exactly as stored.
type ExportedRecord struct {
	Subject   string          `json:"subject"`
	StreamSeq uint64          `json:"stream_seq"`
	Record    json.RawMessage `json:"record"`
}

// ExportAudit reads every message of a site's chains, in stream order.
func ExportAudit(ctx context.Context, st *Stores, site string) ([]ExportedRecord, error) {
	var out []ExportedRecord
	err := walkAudit(ctx, st, site, func(raw []byte, subject string, sseq uint64) error {
		out = append(out, ExportedRecord{Subject: subject, StreamSeq: sseq, Record: append(json.RawMessage(nil), raw...)})
		return nil
	})
	return out, err
}

// AuditKeys are the daemons' public audit keys an auditor trusts, by key
// id.
type AuditKeys map[string]ed25519.PublicKey

// LoadAuditKeys reads the Ed25519 public keys (*.pub, e.g. each daemon's
// daemon.pub) in dir.
func LoadAuditKeys(dir string) (AuditKeys, error) {
	pubs, err := keyfile.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("queue: audit keys: %w", err)
	}
	keys := AuditKeys{}
	for _, p := range pubs {
		if ed, ok := p.Key.(ed25519.PublicKey); ok {
			keys[p.KID] = ed
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("queue: audit keys: no Ed25519 public key (*.pub) in %s", dir)
	}
	return keys, nil
}

// ChainSummary is one daemon's verified chain.
type ChainSummary struct {
	Daemon  string `json:"daemon"`
	Records uint64 `json:"records"`
	Head    string `json:"head"` // Hash of the last record
}

// VerifyChains checks a site's exported chains offline: each record is
// well-formed, on its daemon's subject and site, signed by a key in keys
// (an unknown key is refused), and the records of each daemon count from 1
// with no gap, each Prev the Hash of the record before, in stream order. A
// forged, changed, removed or reordered record fails the check with an
// error wrapping ErrChainBroken that names it. Truncation at the end of a
// chain is invisible offline: compare Head with the daemon's head file.
func VerifyChains(site string, recs []ExportedRecord, keys AuditKeys) ([]ChainSummary, error) {
	type chain struct {
		seq  uint64
		hash string
	}
	chains := map[string]*chain{}
	var lastSeq uint64
	for _, e := range recs {
		if e.StreamSeq <= lastSeq {
			return nil, fmt.Errorf("%w: stream seq %d after %d: out of order", ErrChainBroken, e.StreamSeq, lastSeq)
		}
		lastSeq = e.StreamSeq
		r, err := decodeRecord(e.Record)
		if err != nil {
			return nil, fmt.Errorf("%w: stream seq %d: %v", ErrChainBroken, e.StreamSeq, err)
		}
		pub, ok := keys[r.Daemon]
		switch {
		case e.Subject != AuditSubject(site, r.Daemon) || r.Site != site:
			return nil, fmt.Errorf("%w: stream seq %d: subject %s does not match the record's site and daemon", ErrChainBroken, e.StreamSeq, e.Subject)
		case !ok:
			return nil, fmt.Errorf("%w: stream seq %d: daemon key %s is not among the trusted keys", ErrChainBroken, e.StreamSeq, r.Daemon)
		case r.Hash != r.ComputeHash():
			return nil, fmt.Errorf("%w: daemon %s record %d: hash does not match its contents", ErrChainBroken, r.Daemon, r.Seq)
		case !r.checkSig(pub):
			return nil, fmt.Errorf("%w: daemon %s record %d: bad signature", ErrChainBroken, r.Daemon, r.Seq)
		}
		c := chains[r.Daemon]
		if c == nil {
			c = &chain{}
			chains[r.Daemon] = c
		}
		switch {
		case r.Seq != c.seq+1:
			return nil, fmt.Errorf("%w: daemon %s: record %d follows record %d: records missing or reordered", ErrChainBroken, r.Daemon, r.Seq, c.seq)
		case r.Prev != c.hash:
			return nil, fmt.Errorf("%w: daemon %s record %d: prev hash does not match record %d", ErrChainBroken, r.Daemon, r.Seq, c.seq)
		}
		c.seq, c.hash = r.Seq, r.Hash
	}
	out := make([]ChainSummary, 0, len(chains))
	for d, c := range chains {
		out = append(out, ChainSummary{Daemon: d, Records: c.seq, Head: c.hash})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Daemon < out[j].Daemon })
	return out, nil
}

// VerifyAudit reads a site's chains from the stream and checks them with
// VerifyChains; it returns the number of records checked.
func VerifyAudit(ctx context.Context, st *Stores, site string, keys AuditKeys) (int, error) {
	recs, err := ExportAudit(ctx, st, site)
	if err != nil {
		return 0, err
	}
	if _, err := VerifyChains(site, recs, keys); err != nil {
		return 0, err
	}
	return len(recs), nil
}
