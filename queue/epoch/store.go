package epoch

import (
	"bytes"
	"crypto/hpke"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cityid/printerd/queue/seal"
)

// Defaults of Options.
const (
	DefaultPeriod = 24 * time.Hour
	MinPeriod     = time.Minute
	pemType       = "PRINTERD EPOCH KEY"
	idLayout      = "20060102T150405Z"
	tmpPrefix     = ".tmp-"
)

// Options configure a Store. The zero value of each field means its
// default.
type Options struct {
	// Dir holds the private halves. It is created with mode 0700; an
	// existing directory that group or others can use is refused.
	Dir string
	// Period is the length of an epoch, whole seconds, at least MinPeriod;
	// 0 means DefaultPeriod (a day).
	Period time.Duration
	// Ahead: Current makes the next epoch's key once less than Ahead is left
	// of the current epoch, so enrollment systems can fetch it before it is
	// needed. 0 means Period/4 (6 h for a day).
	Ahead time.Duration
	// KEM of new keys: seal.KEMXWing (0, the default) or seal.KEMX25519.
	KEM uint16
}

// Key is the public view of one epoch key.
type Key struct {
	ID     string // seal.KeyID of the public key
	Epoch  string // epoch id: the start as 20061102T150405Z
	KEM    uint16
	Start  time.Time // first instant of the epoch
	End    time.Time // first instant after it
	Public hpke.PublicKey
}

// Recipient returns the key as a seal recipient.
func (k Key) Recipient() seal.Recipient { return seal.Recipient{KeyID: k.ID, PublicKey: k.Public} }

// Store is a daemon's epoch keys on disk. It implements seal.Keyring. Its
// methods are safe for concurrent use, and several processes (the daemon
// and printerd keys) may use one directory.
type Store struct {
	opts Options
	mu   sync.Mutex
	kids map[string]string // file name -> key id, for files seen so far
}

var _ seal.Keyring = (*Store)(nil)

// Open opens (and creates) the key directory.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("epoch: options: Dir is empty")
	}
	if opts.Period == 0 {
		opts.Period = DefaultPeriod
	}
	if opts.Period < MinPeriod || opts.Period%time.Second != 0 {
		return nil, fmt.Errorf("epoch: options: Period %v: must be whole seconds, at least %v", opts.Period, MinPeriod)
	}
	if opts.Ahead == 0 {
		opts.Ahead = opts.Period / 4
	}
	if opts.Ahead < 0 || opts.Ahead > opts.Period {
		return nil, fmt.Errorf("epoch: options: Ahead %v: must be between 0 and Period", opts.Ahead)
	}
	if opts.KEM == 0 {
		opts.KEM = seal.KEMXWing
	}
	if _, err := seal.KEM(opts.KEM); err != nil {
		return nil, fmt.Errorf("epoch: options: KEM: %w", err)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("epoch: %w", err)
	}
	st, err := os.Stat(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("epoch: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("epoch: key directory %s has mode %o: run chmod 700 %s", opts.Dir, st.Mode().Perm(), opts.Dir)
	}
	return &Store{opts: opts, kids: map[string]string{}}, nil
}

// Options returns the options in effect, defaults filled in.
func (s *Store) Options() Options { return s.opts }

// EpochAt returns the start and end of the epoch holding t.
func (s *Store) EpochAt(t time.Time) (start, end time.Time) {
	p := int64(s.opts.Period / time.Second)
	u := t.Unix()
	u -= ((u % p) + p) % p
	start = time.Unix(u, 0).UTC()
	return start, start.Add(s.opts.Period)
}

// Current returns the key of the epoch holding now, making it if needed,
// and makes the next epoch's key too once less than Options.Ahead is left.
func (s *Store) Current(now time.Time) (Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start, end := s.EpochAt(now)
	k, err := s.ensure(start, end)
	if err != nil {
		return Key{}, err
	}
	if end.Sub(now) <= s.opts.Ahead {
		if _, err := s.ensure(end, end.Add(s.opts.Period)); err != nil {
			return Key{}, err
		}
	}
	return k, nil
}

// Keys returns the public view of every key held, oldest first.
func (s *Store) Keys() ([]Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names, err := s.names()
	if err != nil {
		return nil, err
	}
	var out []Key
	for _, n := range names {
		k, _, err := s.load(n)
		if errors.Is(err, os.ErrNotExist) {
			continue // destroyed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// PrivateKey implements seal.Keyring: it returns the private half of the
// key with this id, or an error matching seal.ErrKeyGone if the store does
// not hold it (destroyed, or never made here).
func (s *Store) PrivateKey(kid string) (hpke.PrivateKey, error) {
	sk, err := s.find(kid)
	if err != nil {
		return nil, err
	}
	if sk == nil {
		return nil, fmt.Errorf("epoch: key %s: %w", kid, seal.ErrKeyGone)
	}
	return sk, nil
}

// Has reports whether the store holds the private key with this id,
// without handing it out: a release checks that a held job can still be
// opened, without opening it.
func (s *Store) Has(kid string) (bool, error) {
	sk, err := s.find(kid)
	return sk != nil, err
}

// find returns the private key with this id, or nil if the store does not
// hold it. File names whose key id is known (s.kids) are not read again
// unless they match.
func (s *Store) find(kid string) (hpke.PrivateKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names, err := s.names()
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if id, ok := s.kids[n]; ok && id != kid {
			continue
		}
		k, sk, err := s.load(n)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if k.ID == kid {
			return sk, nil
		}
	}
	return nil, nil
}

// DestroyExpired destroys every key whose epoch ended at least maxJobAge
// (the CARD_JOBS maximum age) + heldRetention (CARD_HELD's) before now:
// by then every job sealed to it has been printed, or has expired from
// both streams. It also wipes temporary files a crash left behind. It
// returns the keys destroyed.
func (s *Store) DestroyExpired(now time.Time, maxJobAge, heldRetention time.Duration) ([]Key, error) {
	if maxJobAge <= 0 || heldRetention < 0 {
		return nil, fmt.Errorf("epoch: destroy: maxJobAge %v and heldRetention %v: must be positive (a stream without a maximum age keeps jobs for ever, so its keys can never be destroyed)", maxJobAge, heldRetention)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.wipeTemps(now); err != nil {
		return nil, err
	}
	names, err := s.names()
	if err != nil {
		return nil, err
	}
	var gone []Key
	for _, n := range names {
		k, _, err := s.load(n)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return gone, err
		}
		if now.Before(k.End.Add(maxJobAge + heldRetention)) {
			continue
		}
		if err := s.destroy(n); err != nil {
			return gone, err
		}
		gone = append(gone, k)
	}
	return gone, nil
}

// Destroy destroys the key of one epoch now, whatever its age (printerd
// keys destroy). Jobs sealed only to it can no longer be printed.
func (s *Store) Destroy(epochID string) error {
	if _, err := time.Parse(idLayout, epochID); err != nil {
		return fmt.Errorf("epoch: destroy: epoch id: must be like 20261130T000000Z")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.destroy(epochID + ".key")
}

// names lists the key files, oldest epoch first.
func (s *Store) names() ([]string, error) {
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("epoch: %w", err)
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".key") && !strings.HasPrefix(n, tmpPrefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ensure returns the key of the epoch [start, end), making it if absent.
func (s *Store) ensure(start, end time.Time) (Key, error) {
	name := start.Format(idLayout) + ".key"
	k, _, err := s.load(name)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return Key{}, err
	}
	if err := s.create(name, start, end); err != nil {
		return Key{}, err
	}
	k, _, err = s.load(name)
	return k, err
}

// create writes a new key file: temporary name, sync, hard link to the
// final name (which fails if another process made it first), sync the
// directory.
func (s *Store) create(name string, start, end time.Time) error {
	kem, _ := seal.KEM(s.opts.KEM)
	sk, err := kem.GenerateKey()
	if err != nil {
		return fmt.Errorf("epoch: generate key: %w", err)
	}
	priv, err := sk.Bytes()
	if err != nil {
		return fmt.Errorf("epoch: serialise key: %w", err)
	}
	defer clear(priv)
	blk := &pem.Block{Type: pemType, Headers: map[string]string{
		"KEM":   strconv.Itoa(int(s.opts.KEM)),
		"Start": start.Format(time.RFC3339),
		"End":   end.Format(time.RFC3339),
	}, Bytes: priv}
	data := pem.EncodeToMemory(blk)
	defer clear(data)
	f, err := os.CreateTemp(s.opts.Dir, tmpPrefix+"*.key")
	if err != nil {
		return fmt.Errorf("epoch: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		s.wipe(tmp)
		return fmt.Errorf("epoch: write key: %w", werr)
	}
	final := filepath.Join(s.opts.Dir, name)
	lerr := os.Link(tmp, final)
	if lerr == nil {
		// same inode under its final name: unlinking the temporary name
		// leaves no copy behind
		err = os.Remove(tmp)
	} else {
		err = s.wipe(tmp) // another process won; its key stands
	}
	if err != nil {
		return fmt.Errorf("epoch: %w", err)
	}
	if lerr != nil && !errors.Is(lerr, os.ErrExist) {
		return fmt.Errorf("epoch: %w", lerr)
	}
	return syncDir(s.opts.Dir)
}

// load reads one key file. The error matches os.ErrNotExist when the file
// is gone.
func (s *Store) load(name string) (Key, hpke.PrivateKey, error) {
	path := filepath.Join(s.opts.Dir, name)
	bad := func(rule string) (Key, hpke.PrivateKey, error) {
		return Key{}, nil, fmt.Errorf("epoch: key file %s: %s", path, rule)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Key{}, nil, fmt.Errorf("epoch: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return bad(fmt.Sprintf("mode %o: must not be readable by group or others; run chmod 600 %s", fi.Mode().Perm(), path))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Key{}, nil, fmt.Errorf("epoch: %w", err)
	}
	defer clear(data)
	blk, rest := pem.Decode(data)
	if blk == nil || blk.Type != pemType || len(bytes.TrimSpace(rest)) != 0 {
		return bad("must hold one PEM block of type " + pemType)
	}
	defer clear(blk.Bytes)
	kemID, err := strconv.ParseUint(blk.Headers["KEM"], 10, 16)
	if err != nil {
		return bad("KEM header: must be a decimal HPKE KEM id")
	}
	kem, err := seal.KEM(uint16(kemID))
	if err != nil {
		return bad("KEM header: " + err.Error())
	}
	start, err1 := time.Parse(time.RFC3339, blk.Headers["Start"])
	end, err2 := time.Parse(time.RFC3339, blk.Headers["End"])
	if err1 != nil || err2 != nil || !start.Before(end) {
		return bad("Start and End headers: must be RFC 3339 times, Start before End")
	}
	epochID := start.UTC().Format(idLayout)
	if name != epochID+".key" {
		return bad("name: must be the epoch id of its Start header")
	}
	sk, err := kem.NewPrivateKey(blk.Bytes)
	if err != nil {
		return bad("key bytes: " + err.Error())
	}
	k := Key{ID: seal.KeyID(sk.PublicKey()), Epoch: epochID, KEM: uint16(kemID),
		Start: start.UTC(), End: end.UTC(), Public: sk.PublicKey()}
	s.kids[name] = k.ID
	return k, sk, nil
}

// destroy wipes one key file.
func (s *Store) destroy(name string) error {
	delete(s.kids, name)
	if err := s.wipe(filepath.Join(s.opts.Dir, name)); err != nil {
		return fmt.Errorf("epoch: destroy %s: %w", name, err)
	}
	return nil
}

// wipe overwrites a file's bytes in place with random bytes, syncs it,
// removes it and syncs the directory.
func (s *Store) wipe(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		junk := make([]byte, st.Size())
		rand.Read(junk)
		_, err = f.WriteAt(junk, 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// wipeTemps wipes temporary files older than a minute (a crash between
// write and link); younger ones may belong to a create under way in
// another process.
func (s *Store) wipeTemps(now time.Time) error {
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("epoch: %w", err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < time.Minute {
			continue
		}
		if err := s.wipe(filepath.Join(s.opts.Dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("epoch: wipe %s: %w", e.Name(), err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("epoch: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("epoch: sync %s: %w", dir, err)
	}
	return nil
}
