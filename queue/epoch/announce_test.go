package epoch

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/internal/natstest"
	"github.com/cityid/printerd/queue/seal"
	"github.com/nats-io/nats.go/jetstream"
)

// daemon is one test daemon: its long-term key and its epoch store.
type daemon struct {
	sg  *Signer
	st  *Store
	pub keyfile.Public
}

func newDaemon(t *testing.T, kem uint16) daemon {
	t.Helper()
	dir := t.TempDir()
	sg, err := LoadOrCreateSigner(dir, "daemon")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := keyfile.LoadPublic(filepath.Join(dir, "daemon.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return daemon{sg: sg, st: openStore(t, filepath.Join(dir, "epoch"), kem), pub: keyfile.Public{KID: sg.KID, Key: pub}}
}

func TestSigner(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateSigner(dir, "daemon")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "daemon.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("daemon.key: %v mode %o, want 600", err, fi.Mode().Perm())
	}
	b, err := LoadOrCreateSigner(dir, "daemon")
	if err != nil || b.KID != a.KID || !a.Key.Equal(b.Key) {
		t.Fatalf("second load gave another key (%v)", err)
	}
	if kid, _ := keyfile.KIDHex(a.Key.Public()); kid != a.KID || len(kid) != 16 {
		t.Fatalf("kid %s, want keyfile.KIDHex %s", a.KID, kid)
	}
	es, _ := keyfile.New(keyfile.ES256)
	keyfile.WritePair(dir, "ec", es)
	if _, err := LoadOrCreateSigner(dir, "ec"); err == nil || !strings.Contains(err.Error(), "Ed25519") {
		t.Fatalf("ECDSA daemon key: %v, want refused", err)
	}
}

func TestVerify(t *testing.T) {
	now := day("2026-11-30T09:00:00Z")
	d1, d2 := newDaemon(t, 0), newDaemon(t, seal.KEMX25519)
	k1, _ := d1.st.Current(now)
	pinned := []keyfile.Public{d1.pub, d2.pub}
	good, err := Announce("town-hall", d1.sg, k1)
	if err != nil {
		t.Fatal(err)
	}
	k, err := Verify(good, "town-hall", pinned)
	if err != nil || k.ID != k1.ID || !k.Start.Equal(k1.Start) || k.KEM != seal.KEMXWing {
		t.Fatalf("verify: %+v %v", k, err)
	}
	// a JSON round trip keeps it valid
	raw, _ := json.Marshal(good)
	back, err := ParseAnnouncement(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(back, "town-hall", pinned); err != nil {
		t.Fatalf("after JSON: %v", err)
	}
	// the other daemon's key, claimed as d1's
	k2, _ := d2.st.Current(now)
	resign := func(a *Announcement, sg *Signer) *Announcement {
		in, _ := a.SigningInput()
		a.Sig = ed25519.Sign(sg.Key, in)
		return a
	}
	for _, tc := range []struct {
		name string
		a    func() *Announcement
		site string
		pins []keyfile.Public
		want error
	}{
		{"signature byte flipped", func() *Announcement { a := *good; a.Sig = append([]byte(nil), a.Sig...); a.Sig[0] ^= 1; return &a }, "town-hall", pinned, ErrSignature},
		{"no signature", func() *Announcement { a := *good; a.Sig = nil; return &a }, "town-hall", pinned, ErrSignature},
		{"other daemon's key swapped in", func() *Announcement {
			a := *good
			a.KEM, a.KID, a.Public = k2.KEM, k2.ID, k2.Public.Bytes()
			return &a
		}, "town-hall", pinned, ErrSignature},
		{"signed by the other daemon, claimed as d1", func() *Announcement { a := *good; return resign(&a, d2.sg) }, "town-hall", pinned, ErrSignature},
		{"epoch moved", func() *Announcement { a := *good; a.End = "2026-12-31T00:00:00Z"; return &a }, "town-hall", pinned, ErrSignature},
		{"daemon not pinned", func() *Announcement { return good }, "town-hall", []keyfile.Public{d2.pub}, ErrUnpinned},
		{"no pins", func() *Announcement { return good }, "town-hall", nil, ErrUnpinned},
		{"another site", func() *Announcement { return good }, "harbour", pinned, ErrMalformed},
		{"site rewritten", func() *Announcement { a := *good; a.Site = "harbour"; return &a }, "harbour", pinned, ErrSignature},
		{"version", func() *Announcement { a := *good; a.V = 2; return &a }, "town-hall", pinned, ErrMalformed},
		// signed by the pinned daemon but malformed
		{"kid not of pub", func() *Announcement { a := *good; a.KID = "0000000000000000"; return resign(&a, d1.sg) }, "town-hall", pinned, ErrMalformed},
		{"epoch not start", func() *Announcement { a := *good; a.Epoch = "20261201T000000Z"; return resign(&a, d1.sg) }, "town-hall", pinned, ErrMalformed},
		{"end before start", func() *Announcement { a := *good; a.End = "2026-11-29T00:00:00Z"; return resign(&a, d1.sg) }, "town-hall", pinned, ErrMalformed},
		{"time not UTC", func() *Announcement { a := *good; a.Start = "2026-11-30T01:00:00+01:00"; return resign(&a, d1.sg) }, "town-hall", pinned, ErrMalformed},
		{"unknown kem", func() *Announcement { a := *good; a.KEM = 0x10; return resign(&a, d1.sg) }, "town-hall", pinned, ErrMalformed},
		{"bad pub", func() *Announcement { a := *good; a.Public = a.Public[:100]; return resign(&a, d1.sg) }, "town-hall", pinned, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Verify(tc.a(), tc.site, tc.pins); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	for _, raw := range []string{`{"v":1,"x":1}`, `{"v":1} {}`, `[]`, `{"pub":"!!"}`, `{"Site":"a"}`, `{"site":"a","site":"b"}`,
		`{"pub":"` + strings.Repeat("A", MaxAnnouncement) + `"}`} {
		if _, err := ParseAnnouncement([]byte(raw)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseAnnouncement(%s): %v, want ErrMalformed", raw, err)
		}
	}
	if _, err := Announce("town.hall", d1.sg, k1); err == nil {
		t.Error("Announce accepted a site with a dot (it would break the KV key)")
	}
}

func setupKV(t *testing.T) jetstream.KeyValue {
	t.Helper()
	srv := natstest.Start(t)
	kv, err := SetupBucket(natstest.Context(t, 10*time.Second), srv.JS, jetstream.FileStorage, 1)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func publishAll(t *testing.T, kv jetstream.KeyValue, site string, d daemon) {
	t.Helper()
	ks, err := d.st.Keys()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		a, err := Announce(site, d.sg, k)
		if err != nil {
			t.Fatal(err)
		}
		if err := Publish(natstest.Context(t, 5*time.Second), kv, a); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTwoDaemonsOneSite: two daemons at a site publish their keys; an
// enrollment system picks both current keys, seals once, and either daemon
// opens the job; a forged entry, another site's daemon and a daemon not
// pinned are left out; across an epoch boundary the new keys are picked.
func TestTwoDaemonsOneSite(t *testing.T) {
	kv := setupKV(t)
	ctx := natstest.Context(t, 30*time.Second)
	evening := day("2026-11-30T20:00:00Z")
	d1, d2, other, stranger := newDaemon(t, 0), newDaemon(t, 0), newDaemon(t, 0), newDaemon(t, 0)
	for _, d := range []daemon{d1, d2, other, stranger} {
		if _, err := d.st.Current(evening); err != nil { // today's and tomorrow's keys
			t.Fatal(err)
		}
	}
	publishAll(t, kv, "town-hall", d1)
	publishAll(t, kv, "town-hall", d2)
	publishAll(t, kv, "harbour", other)
	publishAll(t, kv, "town-hall", stranger) // not pinned at town-hall

	// forged: the stranger's key stored as d1's, signed by the stranger
	sk, _ := stranger.st.Current(evening)
	forged, _ := Announce("town-hall", stranger.sg, sk)
	forged.Daemon = d1.sg.KID
	forged.Epoch = "20261130T000001Z"
	raw, _ := json.Marshal(forged)
	if _, err := kv.Put(ctx, KVKey("town-hall", d1.sg.KID, forged.Epoch), raw); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "town-hall.garbage.x", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	// d2's real announcement copied under a wrong key
	d2k, _ := d2.st.Current(evening)
	a2, _ := Announce("town-hall", d2.sg, d2k)
	raw2, _ := json.Marshal(a2)
	if _, err := kv.Put(ctx, KVKey("town-hall", d2.sg.KID, "20261231T000000Z"), raw2); err != nil {
		t.Fatal(err)
	}

	pinned := []keyfile.Public{d1.pub, d2.pub, other.pub} // other is pinned but serves another site
	pick, err := Recipients(ctx, kv, "town-hall", pinned, evening)
	if err != nil {
		t.Fatal(err)
	}
	d1k, _ := d1.st.Current(evening)
	if len(pick.Recipients) != 2 || pick.Recipients[0].KeyID != d1k.ID || pick.Recipients[1].KeyID != d2k.ID {
		t.Fatalf("recipients %+v, want d1's and d2's current keys", pick.Recipients)
	}
	if len(pick.Missing) != 1 || pick.Missing[0] != other.sg.KID {
		t.Fatalf("missing %v, want the harbour daemon", pick.Missing)
	}
	// refused: forged, garbage, wrong key, stranger's two keys
	if len(pick.Refused) != 5 {
		for _, e := range pick.Refused {
			t.Logf("refused %s: %v", e.Key, e.Err)
		}
		t.Fatalf("%d refused entries, want 5", len(pick.Refused))
	}
	for _, e := range pick.Refused {
		switch {
		case e.Key == KVKey("town-hall", d1.sg.KID, forged.Epoch) && errors.Is(e.Err, ErrSignature),
			e.Key == "town-hall.garbage.x" && errors.Is(e.Err, ErrMalformed),
			e.Key == KVKey("town-hall", d2.sg.KID, "20261231T000000Z") && errors.Is(e.Err, ErrMalformed),
			strings.HasPrefix(e.Key, "town-hall."+stranger.sg.KID+".") && errors.Is(e.Err, ErrUnpinned):
		default:
			t.Errorf("refused %s for %v", e.Key, e.Err)
		}
	}
	job, err := seal.Seal(rand.Reader, person, clearF, pick.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, job, d1.st)
	mustOpen(t, job, d2.st)
	if _, err := seal.Open(job, clearF, other.st); !errors.Is(err, seal.ErrKeyGone) {
		t.Fatalf("another site's daemon: %v, want ErrKeyGone", err)
	}

	// after midnight the keys made ahead are picked
	morning := day("2026-12-01T08:00:00Z")
	pick2, err := Recipients(ctx, kv, "town-hall", pinned, morning)
	if err != nil {
		t.Fatal(err)
	}
	n1, _ := d1.st.Current(morning)
	n2, _ := d2.st.Current(morning)
	if len(pick2.Recipients) != 2 || pick2.Recipients[0].KeyID != n1.ID || pick2.Recipients[1].KeyID != n2.ID || n1.ID == d1k.ID {
		t.Fatalf("recipients after midnight %+v, want the new keys", pick2.Recipients)
	}
	// the day-old job still opens on both daemons
	mustOpen(t, job, d1.st)
	mustOpen(t, job, d2.st)

	// d1 destroys yesterday's key and withdraws it: the job still opens on d2
	if err := d1.st.Destroy(d1k.Epoch); err != nil {
		t.Fatal(err)
	}
	if err := Withdraw(ctx, kv, "town-hall", d1.sg.KID, d1k.Epoch); err != nil {
		t.Fatal(err)
	}
	if _, err := seal.Open(job, clearF, d1.st); !errors.Is(err, seal.ErrKeyGone) {
		t.Fatalf("d1 after destroy: %v, want ErrKeyGone", err)
	}
	mustOpen(t, job, d2.st)
	ents, err := Fetch(ctx, kv, "town-hall")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Key == KVKey("town-hall", d1.sg.KID, d1k.Epoch) {
			t.Fatal("withdrawn announcement still fetched")
		}
	}

	// a site with no pinned daemon's key
	if p, err := Recipients(ctx, kv, "harbour", []keyfile.Public{d1.pub}, evening); !errors.Is(err, ErrNoRecipients) || len(p.Missing) != 1 {
		t.Fatalf("harbour with d1 pinned: %v", err)
	}
	if _, err := Recipients(ctx, kv, "town.hall", pinned, evening); err == nil {
		t.Fatal("Recipients accepted a site with a dot")
	}
}

func FuzzAnnouncement(f *testing.F) {
	sg := &Signer{Key: ed25519.NewKeyFromSeed(make([]byte, 32))}
	sg.KID, _ = keyfile.KIDHex(sg.Key.Public())
	pinned := []keyfile.Public{{KID: sg.KID, Key: sg.Key.Public()}}
	for _, kem := range []uint16{seal.KEMXWing, seal.KEMX25519} {
		k, _ := seal.KEM(kem)
		sk, _ := k.DeriveKeyPair(make([]byte, 32))
		a, _ := Announce("town-hall", sg, Key{ID: seal.KeyID(sk.PublicKey()), Epoch: "20261130T000000Z", KEM: kem,
			Start: day("2026-11-30T00:00:00Z"), End: day("2026-12-01T00:00:00Z"), Public: sk.PublicKey()})
		raw, _ := json.Marshal(a)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := ParseAnnouncement(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parse error is not ErrMalformed: %v", err)
			}
			return
		}
		k, err := Verify(a, "town-hall", pinned)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrUnpinned) {
				t.Fatalf("verify error of no known kind: %v", err)
			}
			return
		}
		if k.ID != a.KID || seal.KeyID(k.Public) != k.ID {
			t.Fatal("verified key does not match its kid")
		}
	})
}
