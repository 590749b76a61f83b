package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/cityid/printerd/queue/service"
)

func newUser(t *testing.T, role, site string) (User, nats.Option) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return User{Name: role + "-1", NKey: pub, Role: role, Site: site}, nats.Nkey(pub, kp.Sign)
}

// TestNoAnonymous: without users the server does not listen at all, and
// with users nobody connects without a key.
func TestNoAnonymous(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{State: t.TempDir(), Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if u := s.ClientURL(); u != "" {
		s.Shutdown()
		t.Fatalf("a server without users listens on %s", u)
	}
	s.Shutdown()
	enr, _ := newUser(t, RoleEnrollment, "local")
	s, err = Start(ctx, Options{State: t.TempDir(), Listen: "127.0.0.1:0", Users: []User{enr}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if nc, err := nats.Connect(s.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("anonymous client connected")
	}
}

// TestRoles: each role may do its part only, with replies on its own inbox.
func TestRoles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	enr, enrOpt := newUser(t, RoleEnrollment, "local")
	clerk, clerkOpt := newUser(t, RoleClerk, "local")
	admin, adminOpt := newUser(t, RoleAdmin, "")
	s, err := Start(ctx, Options{State: t.TempDir(), Listen: "127.0.0.1:0", Users: []User{enr, clerk, admin}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()

	// The daemon: streams and a service.
	self, err := s.Connect("daemon")
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	js, _ := jetstream.New(self)
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "CARD_JOBS", Subjects: []string{"cards.jobs.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := self.Subscribe(service.JobsSubject("local", "status"), func(m *nats.Msg) { m.Respond([]byte(`{"result":"ok","error":""}`)) }); err != nil {
		t.Fatal(err)
	}
	self.Flush()

	connect := func(u User, o nats.Option) (*nats.Conn, chan error) {
		errs := make(chan error, 16)
		nc, err := nats.Connect(s.ClientURL(), o, nats.CustomInboxPrefix(InboxPrefix(u.NKey)),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc, errs
	}
	denied := func(errs chan error) bool {
		select {
		case err := <-errs:
			return strings.Contains(strings.ToLower(err.Error()), "permissions violation")
		case <-time.After(2 * time.Second):
			return false
		}
	}

	enc, enrErrs := connect(enr, enrOpt)
	ejs, _ := jetstream.New(enc)
	if _, err := ejs.Publish(ctx, "cards.jobs.local.default", []byte("{}")); err != nil {
		t.Errorf("enrollment publish of a job: %v", err)
	}
	if _, err := enc.Request(service.JobsSubject("local", "status"), []byte(`{}`), time.Second); err == nil {
		t.Error("enrollment used job control")
	}
	if !denied(enrErrs) {
		t.Error("enrollment job control: no permissions violation")
	}
	enc.Publish("cards.jobs.other-site.default", []byte("{}"))
	if !denied(enrErrs) {
		t.Error("enrollment of site local published a job for another site: no permissions violation")
	}
	enc.Subscribe("_INBOX.>", func(*nats.Msg) {})
	if !denied(enrErrs) {
		t.Error("enrollment subscribed to everyone's inbox: no permissions violation")
	}
	dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
	err = ejs.DeleteStream(dctx, "CARD_JOBS")
	dcancel()
	if err == nil {
		t.Error("enrollment deleted a stream")
	}
	if _, err := js.Stream(ctx, "CARD_JOBS"); err != nil {
		t.Errorf("stream gone after enrollment's delete attempt: %v", err)
	}

	cnc, clerkErrs := connect(clerk, clerkOpt)
	m, err := cnc.Request(service.JobsSubject("local", "status"), []byte(`{}`), 2*time.Second)
	if err != nil || !strings.Contains(string(m.Data), "ok") {
		t.Errorf("clerk job control: %v", err)
	}
	cnc.Publish("cards.jobs.local.default", []byte("{}"))
	cnc.Flush()
	if !denied(clerkErrs) {
		t.Error("clerk published a job: no permissions violation")
	}

	anc, adminErrs := connect(admin, adminOpt)
	ajs, _ := jetstream.New(anc)
	if _, err := ajs.Stream(ctx, "CARD_JOBS"); err != nil {
		t.Errorf("admin stream info: %v", err)
	}
	gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = ajs.CreateOrUpdateConsumer(gctx, "CARD_JOBS", jetstream.ConsumerConfig{Name: "peek"})
	gcancel()
	if err == nil {
		t.Error("admin made a consumer on CARD_JOBS (it could read job bodies)")
	}
	_ = adminErrs
}

func TestLoadUsers(t *testing.T) {
	dir := t.TempDir()
	u, _ := newUser(t, RoleClerk, "local")
	good, _ := json.Marshal([]User{u})
	for _, tc := range []struct {
		body, want string
	}{
		{string(good), ""},
		{`[{"name":"x","nkey":"SUAXXX","role":"clerk"}]`, "public user key"},
		{strings.Replace(string(good), `"role":"clerk"`, `"role":"janitor"`, 1), `role "janitor"`},
		{`[{"name":"x","nkey":"` + u.NKey + `","role":"clerk","password":"p"}]`, "unknown field"},
		{`[{"name":"e","nkey":"` + u.NKey + `","role":"enrollment"}]`, "one site"},
	} {
		path := filepath.Join(dir, "users.json")
		os.WriteFile(path, []byte(tc.body), 0o600)
		_, err := LoadUsers(path)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("LoadUsers(%s): %v, want %q", tc.body, err, tc.want)
		}
	}
	if _, err := LoadUsers(filepath.Join(dir, "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestEnrollmentReadsItsSiteDaemonKeys: an enrollment user reads the
// daemon_keys entries of its own site (what sealing needs), not another
// site's, and cannot write there; the daemon writes its site's.
func TestEnrollmentReadsItsSiteDaemonKeys(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	enr, enrOpt := newUser(t, RoleEnrollment, "north")
	s, err := Start(ctx, Options{State: t.TempDir(), Listen: "127.0.0.1:0", Site: "north", Users: []User{enr}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	self, _ := s.Connect("daemon")
	defer self.Close()
	djs, _ := jetstream.New(self)
	kv, err := djs.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "daemon_keys", History: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "north.d1.e1", []byte("north key")); err != nil {
		t.Fatalf("daemon writes its site's key: %v", err)
	}
	short := func() context.Context { c, cl := context.WithTimeout(ctx, 2*time.Second); t.Cleanup(cl); return c }
	if _, err := kv.Put(short(), "south.d2.e1", []byte("south key")); err == nil {
		t.Error("a daemon of site north wrote a key of site south")
	}
	nc, err := nats.Connect(s.ClientURL(), enrOpt, nats.CustomInboxPrefix(InboxPrefix(enr.NKey)), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ejs, _ := jetstream.New(nc)
	ekv, err := ejs.KeyValue(ctx, "daemon_keys")
	if err != nil {
		t.Fatal(err)
	}
	read := func(filter string) ([]string, error) {
		wctx, wcancel := context.WithTimeout(ctx, 3*time.Second)
		defer wcancel()
		w, err := ekv.WatchFiltered(wctx, []string{filter}, jetstream.IgnoreDeletes())
		if err != nil {
			return nil, err
		}
		defer w.Stop()
		var got []string
		for {
			select {
			case e := <-w.Updates():
				if e == nil {
					return got, nil
				}
				got = append(got, string(e.Value()))
			case <-wctx.Done():
				return got, wctx.Err()
			}
		}
	}
	if got, err := read("north.>"); err != nil || len(got) != 1 || got[0] != "north key" {
		t.Errorf("enrollment reads its site's keys: %v, %v", got, err)
	}
	if e, err := ekv.Get(ctx, "north.d1.e1"); err != nil || string(e.Value()) != "north key" {
		t.Errorf("enrollment gets its site's key: %v", err)
	}
	if got, err := read("south.>"); err == nil || len(got) > 0 {
		t.Errorf("enrollment of north read site south's keys: %v, %v", got, err)
	}
	if _, err := ekv.Put(short(), "north.d9.e1", []byte("forged")); err == nil {
		t.Error("enrollment wrote a daemon key")
	}
}

// TestUsersFileWritableRefused: the users file grants access; one that
// group or others may write is refused.
func TestUsersFileWritableRefused(t *testing.T) {
	dir := t.TempDir()
	u, _ := newUser(t, RoleClerk, "local")
	path := filepath.Join(dir, "users.json")
	if err := AddUser(path, u); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadUsers(path); err != nil {
		t.Fatalf("mode 0600: %v", err)
	}
	os.Chmod(path, 0o622)
	if _, err := LoadUsers(path); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("group/world-writable users file: %v, want refused", err)
	}
}

// TestInsecureNoAuth: the lab switch lets an anonymous client in.
func TestInsecureNoAuth(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{State: t.TempDir(), Listen: "127.0.0.1:0", InsecureNoAuth: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("anonymous client with insecure-no-auth: %v", err)
	}
	nc.Close()
}
