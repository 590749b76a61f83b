package queue

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/epoch"
	"github.com/cityid/printerd/queue/internal/natstest"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
	"github.com/cityid/printerd/queue/seal"
)

// daemonKeys is one test daemon's key material: its epoch store and its
// long-term signing key.
type daemonKeys struct {
	store  *epoch.Store
	signer *epoch.Signer
	pub    keyfile.Public // what enrollment pins
}

func newDaemonKeys(t testing.TB, period time.Duration) daemonKeys {
	t.Helper()
	dir := t.TempDir()
	st, err := epoch.Open(epoch.Options{Dir: filepath.Join(dir, "epoch"), Period: period})
	if err != nil {
		t.Fatal(err)
	}
	sg, err := epoch.LoadOrCreateSigner(dir, "daemon")
	if err != nil {
		t.Fatal(err)
	}
	return daemonKeys{store: st, signer: sg, pub: keyfile.Public{KID: sg.KID, Key: sg.Key.Public()}}
}

// withKeys makes a newEnv tweak that gives the daemon its own keys (and
// so its key upkeep).
func withKeys(k daemonKeys, more ...func(*Config)) func(*Config) {
	return func(c *Config) {
		c.Keys, c.Signer = k.store, k.signer
		for _, f := range more {
			f(c)
		}
	}
}

// sealFor seals a plain job for site "test" to the current key of each
// daemon's store at now.
func sealFor(j *job.Job, now time.Time, ks ...daemonKeys) []byte {
	var sts []*epoch.Store
	for _, k := range ks {
		sts = append(sts, k.store)
	}
	return sample.SealedFor(j, "test", DefaultPool, now, sts...)
}

// capture records every message of the account (subscription ">") on
// the all-powerful test connection, headers included.
type capture struct {
	mu  sync.Mutex
	raw [][]byte
}

func startCapture(t *testing.T, nc *nats.Conn) *capture {
	t.Helper()
	c := &capture{}
	sub, err := nc.Subscribe(">", func(m *nats.Msg) {
		var b bytes.Buffer
		b.WriteString(m.Subject + "\n")
		for k, vs := range m.Header {
			for _, v := range vs {
				b.WriteString(k + ": " + v + "\n")
			}
		}
		b.Write(m.Data)
		c.mu.Lock()
		c.raw = append(c.raw, b.Bytes())
		c.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *capture) all() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Join(c.raw, []byte("\n--\n"))
}

// encodings returns the forms in which a value could leak: raw, JSON
// escaped (ASCII-only too), hex, and standard and URL base64 at each of
// the three alignments it can take inside a longer base64 string.
func encodings(v []byte) map[string][]byte {
	out := map[string][]byte{"raw": v}
	js, _ := json.Marshal(string(v))
	out["json"] = js[1 : len(js)-1]
	var ascii strings.Builder
	for _, r := range string(v) {
		if r < 0x80 {
			ascii.WriteRune(r)
		} else {
			fmt.Fprintf(&ascii, `\u%04x`, r)
		}
	}
	out["json-ascii"] = []byte(ascii.String())
	out["hex"] = []byte(hex.EncodeToString(v))
	for k := 0; k < 3 && len(v)-k >= 6; k++ {
		full := (len(v) - k) / 3 * 3
		out[fmt.Sprintf("base64+%d", k)] = []byte(base64.StdEncoding.EncodeToString(v[k : k+full]))
		out[fmt.Sprintf("base64url+%d", k)] = []byte(base64.RawURLEncoding.EncodeToString(v[k : k+full]))
	}
	return out
}

// personalValues are distinctive values of invented person i: name, birth
// date, gender and a slice of the photo's bytes.
func personalValues(i int) map[string][]byte {
	p := people[i%len(people)]
	photo := sample.Photo(i)
	return map[string][]byte{"name": []byte(p.name), "dob": []byte(p.dob), "gender": []byte(p.gender),
		"photo": photo[len(photo)/2 : len(photo)/2+48]}
}

// findPersonal returns the personal values of the people found in hay, in
// any encoding, as "person/field/encoding".
func findPersonal(hay []byte, persons ...int) []string {
	var found []string
	for _, i := range persons {
		for field, v := range personalValues(i) {
			for enc, e := range encodings(v) {
				if bytes.Contains(hay, e) {
					found = append(found, fmt.Sprintf("person %d %s (%s)", i, field, enc))
				}
			}
		}
	}
	return found
}

// TestV1RefusedUnlessAccepted: a v1 job (plaintext person) is refused by
// default; with AcceptV1 it prints, and the log warns at start and for the
// job.
func TestV1RefusedUnlessAccepted(t *testing.T) {
	e := newEnv(t, 1, nil)
	id, body := newV1Job("V1-0001", 1, 0)
	e.submit(id, body)
	ev := e.waitEvent(id, EventRejected)
	if !strings.Contains(ev.Reason, "must be 2") || !strings.Contains(ev.Reason, "accept-v1") {
		t.Fatalf("reason %q: want it to say v must be 2 and name accept-v1", ev.Reason)
	}
	if n := len(e.devs[0].printed()); n != 0 {
		t.Fatalf("%d cards printed", n)
	}

	m := newEnv(t, 1, func(c *Config) { c.AcceptV1 = true })
	id, body = newV1Job("V1-0002", 1, 1)
	m.submit(id, body)
	m.waitState(id, Printed)
	logs := m.logs.String()
	if !strings.Contains(logs, `"level":"WARN","msg":"queue: accept-v1 is on`) {
		t.Errorf("no start-up warning for accept-v1 in:\n%s", logs)
	}
	if !strings.Contains(logs, `"level":"WARN","msg":"queue: v1 job accepted (accept-v1): its person's data crossed the bus in plaintext","printer":"p0","job_id":"`+id) {
		t.Errorf("no per-job warning for the v1 job in:\n%s", logs)
	}
	// A v2 job still prints beside it.
	id2, body2 := newJob("V1-0003", 1, 2)
	m.submit(id2, body2)
	m.waitState(id2, Printed)
}

// TestSignedJobBindsSiteAndPool: a job signed for another site or pool,
// published on this site's subject, is refused and leaves the ledger
// alone (it may be valid where it belongs).
func TestSignedJobBindsSiteAndPool(t *testing.T) {
	e := newEnv(t, 1, nil)
	for i, tc := range []struct{ site, pool string }{{"elsewhere", DefaultPool}, {"test", "express"}} {
		id, j := newPlainJob(fmt.Sprintf("B-%04d", i), 1, i)
		body := sample.SealedFor(j, tc.site, tc.pool, time.Now(), testKeys())
		e.submit(id, body) // on cards.jobs.test.default
		ev := e.waitEvent(id, EventRejected)
		if !strings.HasPrefix(ev.Reason, "site, pool: must be those of the subject") {
			t.Errorf("%s/%s: reason %q", tc.site, tc.pool, ev.Reason)
		}
		if _, err := e.st.ledger().get(context.Background(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s/%s: ledger entry written (%v): want none", tc.site, tc.pool, err)
		}
	}
	if n := len(e.devs[0].printed()); n != 0 {
		t.Fatalf("%d cards printed", n)
	}
}

// TestSealedJobsRefused: a job sealed to a destroyed key, to another
// site's daemon, or with its sealed part moved from another job is
// refused, with no personal data in the reason, and never printed.
func TestSealedJobsRefused(t *testing.T) {
	k := newDaemonKeys(t, 0)
	other := newDaemonKeys(t, 0)
	e := newEnv(t, 1, withKeys(k))
	now := time.Now()

	// Sealed to a key that is then destroyed.
	goneID, goneJob := newPlainJob("K-0001", 1, 0)
	goneBody := sealFor(goneJob, now, k)
	cur, err := k.store.Current(now)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.store.Destroy(cur.Epoch); err != nil {
		t.Fatal(err)
	}
	// Sealed to another site's daemon.
	otherID, otherJob := newPlainJob("K-0002", 1, 1)
	otherBody := sealFor(otherJob, now, other)
	// The sealed part of another job (sealed to this daemon's new key).
	movedID, movedJob := newPlainJob("K-0003", 1, 2)
	_, donorJob := newPlainJob("K-0004", 1, 0)
	movedBody := moveSealed(t, sealFor(movedJob, now, k), sealFor(donorJob, now, k))

	e.submit(goneID, goneBody)
	e.submit(otherID, otherBody)
	e.submit(movedID, movedBody)
	for _, tc := range []struct{ id, reason string }{
		{goneID, "key-gone: "}, {otherID, "key-gone: "}, {movedID, "binding: sealed: "},
	} {
		ev := e.waitEvent(tc.id, EventRejected)
		if !strings.HasPrefix(ev.Reason, tc.reason) {
			t.Errorf("job %s: reason %q, want %q...", tc.id, ev.Reason, tc.reason)
		}
		if ent := e.waitState(tc.id, Rejected); !strings.HasPrefix(ent.Reason, tc.reason) {
			t.Errorf("job %s: ledger reason %q", tc.id, ent.Reason)
		}
	}
	if !strings.Contains(ReasonKeyGone, "re-submit") && !strings.Contains(ReasonKeyGone, "submit it as a new job") {
		t.Errorf("the key-gone reason does not tell enrollment to re-submit: %q", ReasonKeyGone)
	}
	if n := len(e.devs[0].printed()); n != 0 {
		t.Fatalf("%d cards printed", n)
	}
	if found := findPersonal([]byte(e.logs.String()), 0, 1, 2); len(found) > 0 {
		t.Fatalf("personal data in the log: %v", found)
	}
}

// moveSealed returns body with its sealed part replaced by donor's.
func moveSealed(t *testing.T, body, donor []byte) []byte {
	t.Helper()
	var mb, md map[string]json.RawMessage
	if err := json.Unmarshal(body, &mb); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(donor, &md); err != nil {
		t.Fatal(err)
	}
	mb["sealed"] = md["sealed"]
	out, err := json.Marshal(mb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBusCaptureHasNoPersonalData: everything that crosses the bus while
// sealed jobs are printed, held (a jam), released and printed again
// carries none of the people's values in any encoding. Positive control:
// the same capture finds a v1 job's values.
func TestBusCaptureHasNoPersonalData(t *testing.T) {
	e := newEnv(t, 1, func(c *Config) { c.AcceptV1 = true })
	cap := startCapture(t, e.srv.NC)
	ctx := natstest.Context(t, 30*time.Second)

	printedID, b0 := newJob("CAP-0001", 1, 0)
	e.submit(printedID, b0)
	e.waitState(printedID, Printed)

	e.devs[0].armPrint("jam=y")
	heldID, b1 := newJob("CAP-0002", 1, 1)
	e.submit(heldID, b1)
	e.waitState(heldID, Held)
	held, err := e.d.Clerk().Held(ctx)
	if err != nil || len(held) != 1 {
		t.Fatalf("Held = %v, %v", held, err)
	}
	e.devs[0].dev.SoftReset() // the technician clears the jam
	if _, err := e.d.Clerk().Release(ctx, heldID, "clerk-1", ReleaseSpoiledDestroyed); err != nil {
		t.Fatalf("Release: %v", err)
	}
	e.waitState(heldID, Printed)
	if found := findPersonal(cap.all(), 0, 1); len(found) > 0 {
		t.Fatalf("the bus carried personal data of sealed jobs: %v", found)
	}

	// Positive control: the capture and the search see a v1 job's values.
	v1ID, b2 := newV1Job("CAP-0003", 1, 2)
	e.submit(v1ID, b2)
	e.waitState(v1ID, Printed)
	found := strings.Join(findPersonal(cap.all(), 2), ", ")
	for _, want := range []string{"name (raw)", "dob (raw)", "gender (raw)", "photo (base64+"} {
		if !strings.Contains(found, want) {
			t.Errorf("positive control: the capture did not find the v1 job's %s (found: %s)", want, found)
		}
	}
}

// TestStoreUnreadableAfterKeyDestroyed: the (unencrypted) JetStream store
// searched raw holds no personal value of sealed jobs printed, held and
// waiting, while a v1 job waiting in CARD_JOBS is found (positive
// control); once the epoch key is destroyed by the key upkeep after its
// retention, the held copy that is still in the store no longer opens.
func TestStoreUnreadableAfterKeyDestroyed(t *testing.T) {
	k := newDaemonKeys(t, time.Minute)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	e := newEnv(t, 1, withKeys(k, func(c *Config) {
		c.Now = now
		c.Setup.JobsMaxAge = 2 * time.Hour
		c.Setup.HeldRetention = time.Hour
	}))
	ctx := natstest.Context(t, 30*time.Second)

	// Sealed jobs of persons 1, 2 and 4 (people[1] with another photo):
	// one printed, one held after a jam, one waiting for a pool nobody
	// serves. The positive control, person 0, waits there as a v1 job.
	printedID, pj := newPlainJob("ST-0001", 1, 1)
	e.submit(printedID, sealFor(pj, now(), k))
	e.waitState(printedID, Printed)
	e.devs[0].armPrint("jam=y")
	heldID, hj := newPlainJob("ST-0002", 1, 2)
	e.submit(heldID, sealFor(hj, now(), k))
	e.waitState(heldID, Held)
	_, wj := newPlainJob("ST-0003", 1, 4)
	waiting := sample.SealedFor(wj, "test", "nobody", now(), k.store)
	if _, err := e.srv.JS.Publish(ctx, JobsSubject("test", "nobody"), waiting); err != nil {
		t.Fatal(err)
	}
	_, v1 := newV1Job("ST-0004", 1, 0)
	if _, err := e.srv.JS.Publish(ctx, JobsSubject("test", "nobody"), v1); err != nil {
		t.Fatal(err)
	}

	store := readTree(t, e.srv.Dir)
	if found := findPersonal(store, 1, 2, 4); len(found) > 0 {
		t.Fatalf("the store holds personal data of sealed jobs: %v", found)
	}
	if found := findPersonal(store, 0); !containsAll(found, "name (raw)", "dob (raw)", "gender (raw)", "photo (base64+") {
		t.Fatalf("positive control: the v1 job's values not all found in the store (found %v)", found)
	}

	// The held copy is in the store, sealed; it opens now.
	msg, err := e.st.Held.GetLastMsgForSubject(ctx, HeldSubject("test", heldID))
	if err != nil {
		t.Fatal(err)
	}
	env, err := job.ParseEnvelope(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if j, err := env.OpenAt(k.store, now()); err != nil {
		t.Fatalf("held copy does not open before the key is destroyed: %v", err)
	} else {
		j.Wipe()
	}
	// Retention passes: epoch end + JobsMaxAge + HeldRetention.
	clock.Add(int64(time.Minute + 3*time.Hour + time.Second))
	if err := e.d.UpkeepKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := env.OpenAt(k.store, now()); !errors.Is(err, seal.ErrKeyGone) {
		t.Fatalf("held copy after the key upkeep: %v, want ErrKeyGone", err)
	}
	if _, err := e.d.Clerk().Release(ctx, heldID, "clerk-1", ReleaseSpoiledDestroyed); !errors.Is(err, ErrUnprintable) {
		t.Fatalf("Release of a job whose key is destroyed: %v, want ErrUnprintable", err)
	}
	// The destruction is audited, and the announcement withdrawn.
	var audited bool
	walkAudit(ctx, e.st, "test", func(raw []byte, _ string, _ uint64) error {
		r, err := decodeRecord(raw)
		audited = audited || err == nil && r.Action == AuditKeyDestroyed
		return nil
	})
	if !audited {
		t.Error("no key-destroyed audit record")
	}
	entries, err := epoch.Fetch(ctx, e.st.DaemonKeys, "test")
	if err != nil {
		t.Fatal(err)
	}
	first := env.RecipientKIDs()[0]
	for _, en := range entries {
		if en.A != nil && en.A.KID == first {
			t.Errorf("announcement of the destroyed key %s still in daemon_keys", first)
		}
	}
}

func containsAll(found []string, want ...string) bool {
	s := strings.Join(found, ", ")
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// TestKeysRotateWhilePrinting: an epoch ends while cards print; jobs
// sealed to the old key and to the new one all print, once each, and the
// old key is destroyed only after its retention.
func TestKeysRotateWhilePrinting(t *testing.T) {
	k := newDaemonKeys(t, time.Minute)
	var clock atomic.Int64
	start, _ := k.store.EpochAt(time.Now())
	clock.Store(start.Add(30 * time.Second).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	e := newEnv(t, 2, withKeys(k, func(c *Config) {
		c.Now = now
		c.Setup.JobsMaxAge = time.Hour
		c.Setup.HeldRetention = time.Hour
	}))
	ctx := natstest.Context(t, 60*time.Second)
	kv := e.st.DaemonKeys
	pinned := []keyfile.Public{k.pub}
	var ids []string
	kids := map[string]bool{}
	for round := 0; round < 4; round++ {
		// Enrollment fetches the current key as it would, and seals to it.
		pick, err := epoch.Recipients(ctx, kv, "test", pinned, now())
		if err != nil {
			t.Fatalf("round %d: Recipients: %v", round, err)
		}
		kids[pick.Recipients[0].KeyID] = true
		for i := 0; i < 3; i++ {
			id, j := newPlainJob(fmt.Sprintf("ROT-%d%03d", round, i), 1, i)
			e.submit(id, sample.Sealed(j, "test", DefaultPool, pick.Recipients))
			ids = append(ids, id)
		}
		// The epoch turns while those print; the upkeep runs.
		clock.Add(int64(30 * time.Second))
		if err := e.d.UpkeepKeys(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		e.waitState(id, Printed)
	}
	if len(kids) < 2 {
		t.Fatalf("jobs were sealed to %d key(s); the test must cross an epoch", len(kids))
	}
	printed := e.allPrinted()
	for _, id := range ids {
		if printed[id] != 1 {
			t.Errorf("job %s printed %d times", id, printed[id])
		}
	}
	// Past the first epoch's retention, its key goes; the current stays.
	before, _ := k.store.Keys()
	clock.Add(int64(2*time.Hour + time.Minute))
	if err := e.d.UpkeepKeys(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := k.store.Keys()
	if len(after) >= len(before) {
		t.Fatalf("keys before %d, after the retention %d: none destroyed", len(before), len(after))
	}
	if _, err := k.store.Current(now()); err != nil {
		t.Fatal(err)
	}
}

// TestTwoDaemonsPrintJobsSealedToBoth: two daemons of one site, each with
// its own keys, share the pool; enrollment seals every job to both
// current keys (fetched from daemon_keys and verified against both pinned
// daemon keys), and each daemon prints some of them.
func TestTwoDaemonsPrintJobsSealedToBoth(t *testing.T) {
	ka, kb := newDaemonKeys(t, 0), newDaemonKeys(t, 0)
	e := newEnv(t, 1, withKeys(ka))
	pb := newSimPrinter(t, t.Name()+"-b", 0)
	cfgB := Config{Site: "test", JS: e.srv.JS, Approver: verifierFor(t, e.signer), Keys: kb.store, Signer: kb.signer,
		Maker: blankMaker{}, Logger: e.d.log, StatusInterval: 200 * time.Millisecond, FetchWait: 200 * time.Millisecond,
		Printers: []Printer{{Name: "b0", Dev: pb.drv}}}
	dB, err := Start(natstest.Context(t, 10*time.Second), cfgB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dB.Close)
	ctx := natstest.Context(t, 60*time.Second)
	pick, err := epoch.Recipients(ctx, e.st.DaemonKeys, "test", []keyfile.Public{ka.pub, kb.pub}, time.Now())
	if err != nil || len(pick.Recipients) != 2 {
		t.Fatalf("Recipients = %+v, %v; want both daemons' keys", pick, err)
	}
	var ids []string
	for i := 0; i < 12; i++ {
		id, j := newPlainJob(fmt.Sprintf("TWO-%04d", i), 1, i)
		e.submit(id, sample.Sealed(j, "test", DefaultPool, pick.Recipients))
		ids = append(ids, id)
	}
	for _, id := range ids {
		e.waitState(id, Printed)
	}
	a, b := len(e.devs[0].printed()), len(pb.printed())
	if a+b != len(ids) || a == 0 || b == 0 {
		t.Fatalf("daemon A printed %d, daemon B %d: want all %d, by both", a, b, len(ids))
	}
}
