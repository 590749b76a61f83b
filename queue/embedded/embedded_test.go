package embedded

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, KeyFile)
	k1, err := LoadOrCreateKey(path, filepath.Join(dir, StoreDir))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("new key mode %o, want 600", st.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(path, filepath.Join(dir, StoreDir))
	if err != nil || k2 != k1 {
		t.Fatalf("second load: %v (same key: %v)", err, k1 == k2)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path, filepath.Join(dir, StoreDir)); !errors.Is(err, ErrPermissive) {
		t.Errorf("readable key: err %v, want ErrPermissive", err)
	}
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("abc\n"), 0o600)
	if _, err := LoadOrCreateKey(short, filepath.Join(dir, "other")); err == nil {
		t.Error("short key accepted")
	}
}

func TestListenParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		port int
	}{
		{"127.0.0.1:4222", true, 4222},
		{"127.0.0.1:0", true, -1},
		{":5000", true, 5000},
		{"nonsense", false, 0},
		{"127.0.0.1:99999", false, 0},
	} {
		_, port, err := splitListen(tc.in)
		if (err == nil) != tc.ok || (tc.ok && port != tc.port) {
			t.Errorf("splitListen(%q) = %d, %v", tc.in, port, err)
		}
	}
}

// TestEncryptedAtRest stores a distinctive payload, stops the server, checks
// no raw file under the state directory contains it, and restarts to read
// it back with the same key.
func TestEncryptedAtRest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	state := t.TempDir()
	secret := []byte("Zyxwvut Qqqplorbington 1911-02-03")

	run := func(write bool) []byte {
		s, err := Start(ctx, Options{State: state, Listen: "none"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Shutdown()
		nc, err := s.Connect("test")
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		str, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"cards.events.>"}, Storage: jetstream.FileStorage})
		if err != nil {
			t.Fatal(err)
		}
		if write {
			if _, err := js.Publish(ctx, "cards.events.x", secret); err != nil {
				t.Fatal(err)
			}
		}
		m, err := str.GetLastMsgForSubject(ctx, "cards.events.x")
		if err != nil {
			t.Fatal(err)
		}
		return m.Data
	}
	if got := run(true); !bytes.Equal(got, secret) {
		t.Fatalf("read back %q", got)
	}
	n := 0
	filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, secret) || bytes.Contains(b, []byte("Qqqplorbington")) {
			t.Errorf("%s holds the payload in clear", p)
		}
		return nil
	})
	if n < 2 {
		t.Errorf("only %d files under the state dir: store not on disk?", n)
	}
	if got := run(false); !bytes.Equal(got, secret) {
		t.Fatalf("after restart read back %q", got)
	}
}

func TestInProcessOnly(t *testing.T) {
	s, err := Start(context.Background(), Options{State: t.TempDir(), Listen: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if u := s.ClientURL(); u != "" {
		t.Errorf("ClientURL %q with no listener", u)
	}
	nc, err := s.Connect("t")
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	s.Shutdown() // twice is fine
}

// TestPortInUse: a taken port fails Start at once with a message naming
// the address, instead of a hang until the readiness timeout.
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	u, _ := newUser(t, RoleClerk, "local")
	_, err = Start(context.Background(), Options{State: t.TempDir(), Listen: addr, Users: []User{u}, ReadyTimeout: 30 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Start on a taken port: %v", err)
	}
}

// TestRefuseGlobalAccountStore: a store written by a server without
// accounts (streams in $G) is refused with a message, not hidden behind
// new empty streams.
func TestRefuseGlobalAccountStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	state := t.TempDir()
	key, err := LoadOrCreateKey(filepath.Join(state, KeyFile), filepath.Join(state, StoreDir))
	if err != nil {
		t.Fatal(err)
	}
	ns, err := server.NewServer(&server.Options{JetStream: true, StoreDir: filepath.Join(state, StoreDir), JetStreamKey: key,
		JetStreamCipher: server.ChaCha, DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("old server not ready")
	}
	nc, _ := nats.Connect("", nats.InProcessServer(ns))
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CARD_EVENTS", Subjects: []string{"cards.events.>"}}); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	ns.Shutdown()
	ns.WaitForShutdown()
	if s, err := Start(ctx, Options{State: state, Listen: "none", Logger: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "$G") {
		if s != nil {
			s.Shutdown()
		}
		t.Fatalf("Start on a store of the global account: %v, want a refusal naming $G", err)
	}
}
