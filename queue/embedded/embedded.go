package embedded

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/cityid/printerd/internal/trust"
)

// DefaultListen is where the embedded server listens by default.
const DefaultListen = "127.0.0.1:4222"

// KeyFile is the name of the encryption key file in the state directory.
const KeyFile = "jetstream.key"

// StoreDir is the name of the JetStream store directory in the state directory.
const StoreDir = "jetstream"

// Options configure the embedded server. The zero value is not valid: State
// is required.
type Options struct {
	// State is the state directory; the JetStream store goes to
	// State/jetstream and the encryption key to State/jetstream.key.
	State string
	// Listen is host:port for NATS clients; "" means DefaultListen. Port 0
	// picks a free port. Listen "none" accepts in-process connections only.
	Listen string
	// Logger receives the server's notices, warnings and errors; nil means
	// slog.Default().
	Logger *slog.Logger
	// ReadyTimeout bounds the wait for the server to accept connections;
	// 0 means 10s.
	ReadyTimeout time.Duration
	// ServerName names the server (and its JetStream node); "" means
	// "printerd".
	ServerName string
	// SyncAlways makes JetStream fsync every write before acknowledging
	// it, so that a power cut cannot lose a ledger change (a lost
	// "printing" would let a job print twice). Without it the store is
	// synced every 2 minutes; a killed process loses nothing either way.
	SyncAlways bool
	// Users are the nkey users who may connect over Listen, each with its
	// role's permissions (AccountsConfig). Authentication is always on:
	// without users the server takes in-process connections only (the
	// daemon's own) and does not listen at all.
	Users []User
	// Site is the daemon's site: the permissions of its own in-process
	// connection are those of a daemon user of this site ("" means "local").
	Site string
	// InsecureNoAuth lets any client that reaches Listen connect without
	// credentials, with every permission (a lab only; the daemon logs it
	// loudly).
	InsecureNoAuth bool
	// KeyFile is the store's encryption key file; "" means
	// State/jetstream.key.
	KeyFile string
	// Console makes an in-process console user (role console of Site,
	// named ConsoleName), for the console a daemon serves itself
	// (console-listen): ConnectConsole connects as it. Its seed lives in
	// memory only, so no other client can be it.
	Console bool
}

// ConsoleName names the in-process console user in audit records
// ("alice via console-<site>").
func ConsoleName(site string) string { return "console-" + site }

// Server is a running embedded nats-server.
type Server struct {
	ns   *server.Server
	once sync.Once
	// self is the daemon's own nkey when Users are set.
	self nkeys.KeyPair
	// console is the in-process console user's nkey (Options.Console).
	console     nkeys.KeyPair
	consoleUser User
}

// ErrPermissive is returned when the encryption key file can be read or
// written by group or others.
var ErrPermissive = errors.New("embedded: jetstream key is readable by group or others")

// Start starts the server and waits until it accepts connections. It never
// installs signal handlers (the daemon owns signals).
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.State == "" {
		return nil, errors.New("embedded: state directory not set")
	}
	if err := os.MkdirAll(o.State, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: state directory: %w", err)
	}
	keyPath := o.KeyFile
	if keyPath == "" {
		keyPath = filepath.Join(o.State, KeyFile)
	}
	storeDir := filepath.Join(o.State, StoreDir)
	key, err := LoadOrCreateKey(keyPath, storeDir)
	if err != nil {
		return nil, err
	}
	self, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("embedded: daemon nkey: %w", err)
	}
	selfPub, _ := self.PublicKey()
	site := o.Site
	if site == "" {
		site = "local"
	}
	users := append([]User{{Name: "printerd-self", NKey: selfPub, Role: RoleDaemon, Site: site}}, o.Users...)
	var console nkeys.KeyPair
	var consoleUser User
	if o.Console {
		if console, err = nkeys.CreateUser(); err != nil {
			return nil, fmt.Errorf("embedded: console nkey: %w", err)
		}
		pub, _ := console.PublicKey()
		consoleUser = User{Name: ConsoleName(site), NKey: pub, Role: RoleConsole, Site: site}
		users = append(users, consoleUser)
	}
	conf, err := AccountsConfig(users, o.InsecureNoAuth)
	if err != nil {
		return nil, err
	}
	if err := migrateGlobalAccount(storeDir, lg(o)); err != nil {
		return nil, err
	}
	sopts := &server.Options{}
	if err := sopts.ProcessConfigString(conf); err != nil {
		return nil, fmt.Errorf("embedded: accounts configuration: %w", err)
	}
	sopts.ServerName = o.ServerName
	sopts.JetStream = true
	sopts.StoreDir = storeDir
	sopts.JetStreamKey = key
	sopts.JetStreamCipher = server.ChaCha
	sopts.NoSigs = true
	sopts.MaxPayload = 4 << 20
	sopts.SyncAlways = o.SyncAlways
	if sopts.ServerName == "" {
		sopts.ServerName = "printerd"
	}
	listen := o.Listen
	if listen == "" {
		listen = DefaultListen
	}
	if len(o.Users) == 0 && !o.InsecureNoAuth {
		listen = "none" // nobody but the daemon could log in
	}
	if listen == "none" {
		sopts.DontListen = true
	} else {
		host, port, err := splitListen(listen)
		if err != nil {
			return nil, err
		}
		sopts.Host, sopts.Port = host, port
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("embedded: new server: %w", err)
	}
	lg := o.Logger
	if lg == nil {
		lg = slog.Default()
	}
	lgr := &logger{l: lg.With("component", "nats-server"), fatal: make(chan string, 1)}
	ns.SetLoggerV2(lgr, false, false, false)
	go ns.Start()
	timeout := o.ReadyTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for !ns.ReadyForConnections(50 * time.Millisecond) {
		fail := func(why string) (*Server, error) {
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil, fmt.Errorf("embedded: nats-server did not start: %s", why)
		}
		select {
		case msg := <-lgr.fatal:
			return fail(msg + " (is " + listen + " in use? set --nats-listen)")
		case <-ctx.Done():
			return fail(ctx.Err().Error())
		default:
		}
		if time.Now().After(deadline) {
			return fail(fmt.Sprintf("not ready after %s (is %s in use? set --nats-listen)", timeout, listen))
		}
	}
	return &Server{ns: ns, self: self, console: console, consoleUser: consoleUser}, nil
}

// lg returns the options' logger.
func lg(o Options) *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

// migrateGlobalAccount refuses a store written before accounts (streams
// in the global account, $G): the daemon's streams live in
// AccountPrinterd now, and nats-server binds each stream's encryption to
// its account, so the streams cannot be moved in place. Starting anyway
// would hide the old queue, held jobs and audit chain behind new, empty
// streams.
func migrateGlobalAccount(storeDir string, _ *slog.Logger) error {
	old := filepath.Join(storeDir, "jetstream", "$G", "streams")
	ents, err := os.ReadDir(old)
	if err != nil || len(ents) == 0 {
		return nil
	}
	return fmt.Errorf("embedded: the store %s holds streams written without authentication (account $G); this version keeps them in account %s and cannot move encrypted streams in place: with the previous version, let the queue empty and the held jobs be released or cancelled, export the audit, then move %s aside", storeDir, AccountPrinterd, filepath.Join(storeDir, "jetstream", "$G"))
}

// splitListen parses host:port; port 0 means a random free port.
func splitListen(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("embedded: nats-listen %q: want host:port: %w", s, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("embedded: nats-listen %q: port must be 0-65535", s)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, port, nil
}

// KeyCheckFile is the file in the store directory that holds a
// fingerprint of the store's key (not the key), so that a different key is
// refused before the server starts.
const KeyCheckFile = "printerd-key-check"

// ErrStoreKey is matched by the errors for a store key that is missing
// while its store exists, or that is not the store's key.
var ErrStoreKey = errors.New("embedded: store key does not match the store")

// keyCheck is the fingerprint of a key: not the key, not usable to find it.
func keyCheck(key string) string {
	h := sha256.Sum256([]byte("printerd-store-key-check\n" + key))
	return hex.EncodeToString(h[:16])
}

// storeHasData reports whether the JetStream store directory holds
// anything (streams, accounts).
func storeHasData(storeDir string) bool {
	ents, err := os.ReadDir(filepath.Join(storeDir, "jetstream"))
	return err == nil && len(ents) > 0
}

// LoadOrCreateKey reads the JetStream encryption key at path. It makes a
// new random 256-bit key there (mode 0600) only when the file does not
// exist and the store at storeDir holds nothing: a key is never made over
// an existing store. A missing key for an existing store, or a key whose
// fingerprint is not the one the store recorded (KeyCheckFile), is an
// error wrapping ErrStoreKey that names the key file and says what to
// restore; nothing is started or changed then. It also refuses a key file
// group or others can access, and an empty or short key.
func LoadOrCreateKey(path, storeDir string) (string, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		if storeHasData(storeDir) {
			return "", fmt.Errorf("%w: the store key %s is missing, but the store %s holds data encrypted with it: restore %s from your backup (mode 0600), or point store-key at it; printerd never makes a new key over an existing store and has changed nothing", ErrStoreKey, path, storeDir, path)
		}
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("embedded: make key: %w", err)
		}
		k := hex.EncodeToString(b[:])
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return "", fmt.Errorf("embedded: write key: %w", err)
		}
		if _, err := f.WriteString(k + "\n"); err != nil {
			f.Close()
			return "", fmt.Errorf("embedded: write key %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return "", fmt.Errorf("embedded: write key %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return "", fmt.Errorf("embedded: write key %s: %w", path, err)
		}
		return k, recordKeyCheck(storeDir, k)
	}
	if err != nil {
		return "", fmt.Errorf("embedded: key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%w: %s has mode %o; run chmod 600 %s", ErrPermissive, path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("embedded: key: %w", err)
	}
	k := strings.TrimSpace(string(b))
	if len(k) < 32 {
		return "", fmt.Errorf("embedded: key %s: must hold at least 32 characters (the generated key is 64 hex digits)", path)
	}
	want, err := os.ReadFile(filepath.Join(storeDir, KeyCheckFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		// A store from before the check (or a new one): record it now.
		return k, recordKeyCheck(storeDir, k)
	case err != nil:
		return "", fmt.Errorf("embedded: key check: %w", err)
	case strings.TrimSpace(string(want)) != keyCheck(k):
		return "", fmt.Errorf("%w: the store key %s is not the key of the store %s: restore the key file that belongs to this store from your backup; printerd has changed nothing", ErrStoreKey, path, storeDir)
	}
	return k, nil
}

// recordKeyCheck writes the key's fingerprint into the store directory.
func recordKeyCheck(storeDir, key string) error {
	if err := os.MkdirAll(storeDir, 0o700); err != nil {
		return fmt.Errorf("embedded: store: %w", err)
	}
	if err := trust.WriteFileAtomic(filepath.Join(storeDir, KeyCheckFile), []byte(keyCheck(key)+"\n"), 0o600); err != nil {
		return fmt.Errorf("embedded: key check: %w", err)
	}
	return nil
}

// ClientURL is the URL NATS clients outside the process connect to, or ""
// when the server accepts in-process connections only.
func (s *Server) ClientURL() string {
	if s.ns.Addr() == nil {
		return ""
	}
	return s.ns.ClientURL()
}

// Connect opens an in-process connection to the server (no socket) as the
// daemon's own user: a daemon of Options.Site, with its private inbox.
func (s *Server) Connect(name string, opts ...nats.Option) (*nats.Conn, error) {
	pub, _ := s.self.PublicKey()
	opts = append([]nats.Option{nats.InProcessServer(s.ns), nats.Name(name), nats.MaxReconnects(-1),
		nats.Nkey(pub, s.self.Sign), nats.CustomInboxPrefix(InboxPrefix(pub))}, opts...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: connect: %w", err)
	}
	return nc, nil
}

// ConsoleUser returns the in-process console user (Options.Console), or
// the zero User.
func (s *Server) ConsoleUser() User { return s.consoleUser }

// ConnectConsole opens an in-process connection as the console user
// (Options.Console), with its private inbox.
func (s *Server) ConnectConsole(name string, opts ...nats.Option) (*nats.Conn, error) {
	if s.console == nil {
		return nil, errors.New("embedded: connect console: the server was started without Options.Console")
	}
	pub, _ := s.console.PublicKey()
	opts = append([]nats.Option{nats.InProcessServer(s.ns), nats.Name(name), nats.MaxReconnects(-1),
		nats.Nkey(pub, s.console.Sign), nats.CustomInboxPrefix(InboxPrefix(pub))}, opts...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: connect console: %w", err)
	}
	return nc, nil
}

// NATS returns the underlying server (for tests and leaf-node wiring).
func (s *Server) NATS() *server.Server { return s.ns }

// Shutdown stops the server and waits until it has stopped and flushed its
// store. It is safe to call more than once.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.ns.Shutdown()
	})
	s.ns.WaitForShutdown()
}

// logger routes nats-server logging to slog. Debug and trace are dropped:
// they can carry message payloads. A fatal message (the server cannot go
// on, e.g. its port is taken) is logged and handed to Start, which fails at
// once instead of waiting for readiness.
type logger struct {
	l     *slog.Logger
	fatal chan string
}

func (g *logger) Noticef(format string, v ...any) { g.l.Info(fmt.Sprintf(format, v...)) }
func (g *logger) Warnf(format string, v ...any)   { g.l.Warn(fmt.Sprintf(format, v...)) }
func (g *logger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	g.l.Error(msg)
	select {
	case g.fatal <- msg:
	default:
	}
}
func (g *logger) Errorf(format string, v ...any) { g.l.Error(fmt.Sprintf(format, v...)) }
func (g *logger) Debugf(string, ...any)          {}
func (g *logger) Tracef(string, ...any)          {}
