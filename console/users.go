package console

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Roles of console users. A clerk moves jobs (release, cancel, reprint),
// a technician works on printers (pause, resume, reset, clean, test card),
// an admin may do both.
const (
	RoleClerk      = "clerk"
	RoleTechnician = "technician"
	RoleAdmin      = "admin"
)

// Roles lists the roles, in the order help texts name them.
var Roles = []string{RoleClerk, RoleTechnician, RoleAdmin}

// User is one console user as the users file holds it: no personal data
// beyond the sign-in name the operator chose.
type User struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Hash is the argon2id hash in the PHC string format:
	// $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<hash> (raw
	// standard base64, no padding).
	Hash string `json:"hash"`
}

// Params are argon2id's cost parameters.
type Params struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultParams are RFC 9106's second recommended option (64 MiB, 3
// passes), with 2 lanes for the small office machines printerd runs on.
var DefaultParams = Params{Time: 3, Memory: 64 * 1024, Threads: 2}

const (
	saltLen = 16
	keyLen  = 32
)

// HashPassword returns the PHC string of password under p with a fresh
// random salt.
func HashPassword(password string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("console: password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// parseHash reads a PHC argon2id string.
func parseHash(s string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	bad := func(rule string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, errors.New("console: password hash: " + rule)
	}
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("must be $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return bad(fmt.Sprintf("version must be v=%d", argon2.Version))
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		p.Time < 1 || p.Memory < 8*uint32(p.Threads) || p.Threads < 1 || p.Memory > 4<<20 || p.Time > 64 {
		return bad("parameters must be m=<KiB>,t=<passes>,p=<threads> within argon2's limits (m at most 4 GiB, t at most 64)")
	}
	enc := base64.RawStdEncoding
	if salt, err = enc.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return bad("salt must be raw base64 of at least 8 bytes")
	}
	if key, err = enc.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return bad("hash must be raw base64 of 16-64 bytes")
	}
	return p, salt, key, nil
}

// checkPassword reports whether password matches the PHC hash, comparing
// in constant time.
func checkPassword(hash, password string) bool {
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// ValidName reports whether s can be a console user name: 1-32 letters,
// digits, '.', '-' or '_' (it names the person in audit records).
func ValidName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Users is the users file: read at start, checked at every sign-in.
type Users struct {
	path  string
	mu    sync.RWMutex
	users map[string]User
	// dummy is a hash checked for unknown names, so that a wrong name
	// costs as much time as a wrong password.
	dummy string
}

// usersFile is the file's JSON: {"users": [...]}.
type usersFile struct {
	Users []User `json:"users"`
}

// LoadUsers reads the users file at path. A file that group or others can
// write, a bad entry, a duplicate name or an unknown role is an error
// naming the entry and the rule. A file that does not exist is an error
// too: a console without users lets nobody in.
func LoadUsers(path string) (*Users, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("console: users: %w (make one with printerd console users add)", err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("console: users %s: mode %04o lets group or others write it: chmod 0600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("console: users: %w", err)
	}
	us, err := parseUsers(b)
	if err != nil {
		return nil, fmt.Errorf("console: users %s: %w", path, err)
	}
	return newUsers(path, us)
}

func parseUsers(b []byte) ([]User, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f usersFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf(`want {"users": [{"name", "role", "hash"}]}: %w`, err)
	}
	seen := map[string]bool{}
	for i, u := range f.Users {
		switch {
		case !ValidName(u.Name):
			return nil, fmt.Errorf("user %d: name must be 1-32 letters, digits, '.', '-' or '_'", i)
		case !slices.Contains(Roles, u.Role):
			return nil, fmt.Errorf("user %d (%s): role %q: want %s", i, u.Name, u.Role, strings.Join(Roles, ", "))
		case seen[u.Name]:
			return nil, fmt.Errorf("user %d (%s): name listed twice", i, u.Name)
		}
		if _, _, _, err := parseHash(u.Hash); err != nil {
			return nil, fmt.Errorf("user %d (%s): %w", i, u.Name, err)
		}
		seen[u.Name] = true
	}
	return f.Users, nil
}

func newUsers(path string, us []User) (*Users, error) {
	dummy, err := HashPassword("printerd-console-dummy", DefaultParams)
	if err != nil {
		return nil, err
	}
	m := make(map[string]User, len(us))
	for _, u := range us {
		m[u.Name] = u
	}
	return &Users{path: path, users: m, dummy: dummy}, nil
}

// Check returns the user if name and password match one; it takes about
// as long for an unknown name as for a wrong password.
func (u *Users) Check(name, password string) (User, bool) {
	u.mu.RLock()
	user, ok := u.users[name]
	u.mu.RUnlock()
	if !ok {
		checkPassword(u.dummy, password)
		return User{}, false
	}
	if !checkPassword(user.Hash, password) {
		return User{}, false
	}
	return user, true
}

// Lookup returns a user by name.
func (u *Users) Lookup(name string) (User, bool) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	user, ok := u.users[name]
	return user, ok
}

// AddUser adds or replaces a user in the users file at path (created mode
// 0600, its directory 0700, if missing), hashing password with p. The file
// is replaced atomically and stays 0600.
func AddUser(path, name, role, password string, p Params) error {
	if !ValidName(name) {
		return errors.New("console: user name must be 1-32 letters, digits, '.', '-' or '_'")
	}
	if !slices.Contains(Roles, role) {
		return fmt.Errorf("console: role %q: want %s", role, strings.Join(Roles, ", "))
	}
	if len(password) < 10 {
		return errors.New("console: password must be at least 10 characters")
	}
	var us []User
	if b, err := os.ReadFile(path); err == nil {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("console: users %s: mode %04o lets group or others write it: chmod 0600 it", path, fi.Mode().Perm())
		}
		if us, err = parseUsers(b); err != nil {
			return fmt.Errorf("console: users %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("console: users: %w", err)
	}
	hash, err := HashPassword(password, p)
	if err != nil {
		return err
	}
	us = slices.DeleteFunc(us, func(u User) bool { return u.Name == name })
	us = append(us, User{Name: name, Role: role, Hash: hash})
	b, err := json.MarshalIndent(usersFile{Users: us}, "", "  ")
	if err != nil {
		return fmt.Errorf("console: users: %w", err)
	}
	return writePrivate(path, append(b, '\n'))
}

// writePrivate writes b to path atomically with mode 0600, making its
// directory 0700 if missing.
func writePrivate(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("console: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("console: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("console: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("console: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}
