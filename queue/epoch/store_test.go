package epoch

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityid/printerd/queue/seal"
)

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func openStore(t *testing.T, dir string, kem uint16) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, KEM: kem})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	person = seal.Person{Name: "Qorvi Tenbalu", DOB: "1990-02-03", Gender: "x-test", Photo: bytes.Repeat([]byte("invented-photo-"), 100)}
	clearF = seal.ClearFields{V: 2, JobID: "1c9d4e8a-0000-4a1b-8c2d-000000000001", Site: "town-hall", Pool: "desk",
		Kind: "issue", Template: "municipal-id", CardNumber: "CID-1", CardIssue: 1, Issued: "2026-11-30", Expires: "2036-11-29"}
)

func sealTo(t *testing.T, keys ...Key) *seal.Sealed {
	t.Helper()
	var rs []seal.Recipient
	for _, k := range keys {
		rs = append(rs, k.Recipient())
	}
	s, err := seal.Seal(rand.Reader, person, clearF, rs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustOpen(t *testing.T, s *seal.Sealed, kr seal.Keyring) {
	t.Helper()
	p, err := seal.Open(s, clearF, kr)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if p.Name != person.Name || !bytes.Equal(p.Photo, person.Photo) {
		t.Fatal("opened another person")
	}
}

func TestRotation(t *testing.T) {
	for _, kem := range []uint16{seal.KEMXWing, seal.KEMX25519} {
		st := openStore(t, filepath.Join(t.TempDir(), "epoch"), kem)
		morning, err := st.Current(day("2026-11-30T09:00:00Z"))
		if err != nil {
			t.Fatal(err)
		}
		if morning.Epoch != "20261130T000000Z" || !morning.Start.Equal(day("2026-11-30T00:00:00Z")) ||
			!morning.End.Equal(day("2026-12-01T00:00:00Z")) || morning.KEM != kem || morning.ID != seal.KeyID(morning.Public) {
			t.Fatalf("morning key %+v", morning)
		}
		if ks, _ := st.Keys(); len(ks) != 1 {
			t.Fatalf("%d keys in the morning, want 1 (the next is made only 6 h ahead)", len(ks))
		}
		lateJob := sealTo(t, morning)
		// 19:00: same key, and the next one is made ahead of time
		evening, err := st.Current(day("2026-11-30T19:00:00Z"))
		if err != nil || evening.ID != morning.ID {
			t.Fatalf("evening key %v (%v), want the morning's", evening.ID, err)
		}
		ks, _ := st.Keys()
		if len(ks) != 2 || ks[1].Epoch != "20261201T000000Z" {
			t.Fatalf("keys in the evening: %+v, want today's and tomorrow's", ks)
		}
		// across the boundary the made-ahead key becomes current
		midnight, err := st.Current(day("2026-12-01T00:00:00Z"))
		if err != nil || midnight.ID != ks[1].ID || midnight.ID == morning.ID {
			t.Fatalf("key at midnight %v (%v), want tomorrow's %v", midnight.ID, err, ks[1].ID)
		}
		// a job sealed just before the boundary still opens after it,
		// and so does one sealed to the new key
		mustOpen(t, lateJob, st)
		mustOpen(t, sealTo(t, midnight), st)
		// a second Store on the same directory sees the same keys
		again := openStore(t, st.Options().Dir, kem)
		if k, err := again.Current(day("2026-12-01T01:00:00Z")); err != nil || k.ID != midnight.ID {
			t.Fatalf("reopened store: key %v (%v), want %v", k.ID, err, midnight.ID)
		}
		mustOpen(t, lateJob, again)
	}
}

func TestEpochAlignment(t *testing.T) {
	st, err := Open(Options{Dir: t.TempDir() + "/e", Period: time.Hour, Ahead: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ at, start string }{
		{"2026-11-30T09:59:59Z", "2026-11-30T09:00:00Z"},
		{"2026-11-30T10:00:00Z", "2026-11-30T10:00:00Z"},
		{"1969-12-31T23:30:00Z", "1969-12-31T23:00:00Z"}, // before 1970 rounds down too
	} {
		s, e := st.EpochAt(day(tc.at))
		if !s.Equal(day(tc.start)) || e.Sub(s) != time.Hour {
			t.Errorf("EpochAt(%s) = %v..%v, want start %s", tc.at, s, e, tc.start)
		}
	}
	for _, o := range []Options{
		{},
		{Dir: "x", Period: time.Second},
		{Dir: "x", Period: 90*time.Minute + time.Millisecond},
		{Dir: "x", Ahead: 48 * time.Hour},
		{Dir: "x", KEM: 0x10},
	} {
		if _, err := Open(o); err == nil {
			t.Errorf("Open(%+v) accepted", o)
		}
	}
}

func TestModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "epoch")
	st := openStore(t, dir, 0)
	if _, err := st.Current(day("2026-11-30T20:00:00Z")); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %o, want 700", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("%d files, want 2 (today, tomorrow) and no temporary file", len(ents))
	}
	for _, e := range ents {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o, want 600", e.Name(), fi.Mode().Perm())
		}
	}
	// a key file others can read is refused, loudly
	p := filepath.Join(dir, ents[0].Name())
	os.Chmod(p, 0o644)
	if _, err := st.Keys(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("key file mode 644: Keys err %v, want refused", err)
	}
	os.Chmod(p, 0o600)
	open := t.TempDir()
	os.Chmod(open, 0o755)
	if _, err := Open(Options{Dir: open}); err == nil {
		t.Error("Open accepted a directory others can read")
	}
}

// TestConcurrentCreate: two stores (as two processes would) racing to make
// the same epoch's key end with one key.
func TestConcurrentCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "epoch")
	now := day("2026-11-30T09:00:00Z")
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		st := openStore(t, dir, seal.KEMX25519)
		wg.Go(func() {
			k, err := st.Current(now)
			if err != nil {
				t.Error(err)
			}
			ids[i] = k.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("racing stores made different keys for one epoch: %v", ids)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("%d files after the race, want 1", len(ents))
	}
}

func TestDestroyExpired(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "epoch")
	st := openStore(t, dir, 0)
	k, err := st.Current(day("2026-11-30T09:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	job := sealTo(t, k)
	mustOpen(t, job, st)
	path := filepath.Join(dir, k.Epoch+".key")
	fileBytes, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(fileBytes)
	secrets := [][]byte{fileBytes, blk.Bytes, []byte(base64.StdEncoding.EncodeToString(blk.Bytes)[:40])}
	// a descriptor opened before the destroy sees what happens to the
	// file's own blocks after it is unlinked
	held, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	maxAge, heldRet := 24*time.Hour, 72*time.Hour
	due := k.End.Add(maxAge + heldRet)
	// later keys, not due
	if _, err := st.Current(due); err != nil {
		t.Fatal(err)
	}
	if gone, err := st.DestroyExpired(due.Add(-time.Second), maxAge, heldRet); err != nil || len(gone) != 0 {
		t.Fatalf("one second early: destroyed %v (%v)", gone, err)
	}
	mustOpen(t, job, st)
	gone, err := st.DestroyExpired(due, maxAge, heldRet)
	if err != nil || len(gone) != 1 || gone[0].ID != k.ID {
		t.Fatalf("at the due time: destroyed %+v (%v), want the one key", gone, err)
	}
	if _, err := seal.Open(job, clearF, st); !errors.Is(err, seal.ErrKeyGone) {
		t.Fatalf("open after destroy: %v, want ErrKeyGone", err)
	}
	if _, err := st.PrivateKey(k.ID); !errors.Is(err, seal.ErrKeyGone) {
		t.Fatalf("PrivateKey after destroy: %v, want ErrKeyGone", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("key file still there: %v", err)
	}
	for _, kk := range mustKeys(t, st) {
		if kk.ID == k.ID {
			t.Fatal("Keys still lists the destroyed key")
		}
	}
	after := make([]byte, len(fileBytes))
	if n, _ := held.ReadAt(after, 0); n != len(fileBytes) || bytes.Equal(after, fileBytes) || bytes.Contains(after, blk.Bytes) {
		t.Fatal("the key file's blocks were not overwritten before the unlink")
	}
	searchTree(t, dir, secrets)
	// the other (later) keys still work; destroying again is a no-op
	if gone, err := st.DestroyExpired(due, maxAge, heldRet); err != nil || len(gone) != 0 {
		t.Fatalf("second run destroyed %v (%v)", gone, err)
	}
	if _, err := st.DestroyExpired(due, 0, heldRet); err == nil {
		t.Error("DestroyExpired accepted a zero maximum job age")
	}
}

func mustKeys(t *testing.T, st *Store) []Key {
	t.Helper()
	ks, err := st.Keys()
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// searchTree fails if any file under dir holds any of the secrets.
func searchTree(t *testing.T, dir string, secrets [][]byte) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		for i, s := range secrets {
			if bytes.Contains(b, s) {
				t.Errorf("%s holds secret %d of a destroyed key", p, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("searched no file: the positive control below proves nothing")
	}
	// positive control: the search finds a live key's bytes
	ks := mustKeys(t, &Store{opts: Options{Dir: dir}, kids: map[string]string{}})
	live, _ := os.ReadFile(filepath.Join(dir, ks[0].Epoch+".key"))
	found := false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			found = found || bytes.Contains(b, live)
		}
		return nil
	})
	if !found {
		t.Fatal("the search does not find a live key's bytes")
	}
}

func TestDestroyOne(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "epoch"), seal.KEMX25519)
	k, _ := st.Current(day("2026-11-30T09:00:00Z"))
	job := sealTo(t, k)
	if err := st.Destroy("not-an-id"); err == nil {
		t.Error("Destroy accepted a bad id")
	}
	if err := st.Destroy(k.Epoch); err != nil {
		t.Fatal(err)
	}
	if _, err := seal.Open(job, clearF, st); !errors.Is(err, seal.ErrKeyGone) {
		t.Fatalf("open after destroy: %v, want ErrKeyGone", err)
	}
	if err := st.Destroy(k.Epoch); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("second destroy: %v, want not-exist", err)
	}
}

func TestWipesOldTemps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "epoch")
	st := openStore(t, dir, seal.KEMX25519)
	old := filepath.Join(dir, tmpPrefix+"crash.key")
	young := filepath.Join(dir, tmpPrefix+"busy.key")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("half-written key"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	os.Chtimes(old, now.Add(-time.Hour), now.Add(-time.Hour))
	if _, err := st.DestroyExpired(now, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Error("an hour-old temporary file was left")
	}
	if _, err := os.Stat(young); err != nil {
		t.Error("a fresh temporary file (a create under way) was removed")
	}
}

func TestCorruptKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "epoch")
	st := openStore(t, dir, seal.KEMX25519)
	for _, tc := range []struct{ name, data string }{
		{"20261130T000000Z.key", "not pem"},
		{"20261130T000000Z.key", "-----BEGIN PRINTERD EPOCH KEY-----\nKEM: 32\nStart: 2026-11-30T00:00:00Z\nEnd: 2026-12-01T00:00:00Z\n\nAAAA\n-----END PRINTERD EPOCH KEY-----\n"},
		{"20261129T000000Z.key", "-----BEGIN PRINTERD EPOCH KEY-----\nKEM: 32\nStart: 2026-11-30T00:00:00Z\nEnd: 2026-12-01T00:00:00Z\n\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n-----END PRINTERD EPOCH KEY-----\n"},
	} {
		p := filepath.Join(dir, tc.name)
		os.WriteFile(p, []byte(tc.data), 0o600)
		_, err := st.PrivateKey("0123456789abcdef")
		if err == nil || errors.Is(err, seal.ErrKeyGone) {
			t.Errorf("%q: PrivateKey err %v, want a loud error (not ErrKeyGone)", tc.data[:10], err)
		}
		os.Remove(p)
	}
}
