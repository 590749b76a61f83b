package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/console"
)

// TestConsoleCommand: printerd console users add makes a user from a
// password file; printerd console, its own process's command, serves the
// site of a running daemon over HTTPS with a self-signed certificate whose
// printed fingerprint is the one served; the user signs in and sees the
// daemon's printer.
func TestConsoleCommand(t *testing.T) {
	f := newE2EFixture(t)
	state := filepath.Join(f.dir, "console")
	pw := filepath.Join(f.dir, "pw")
	os.WriteFile(pw, []byte("a-long-password-1\n"), 0o600)
	ctx := context.Background()
	if code, _, errs := runCLI(ctx, "console", "users", "add", "--role", "boss", "--password-file", pw, "--state", state, "clara"); code != exitFail || !strings.Contains(errs, "role") {
		t.Errorf("users add --role boss: exit %d, %q; want 1 naming the role", code, errs)
	}
	if code, out, errs := runCLI(ctx, "console", "users", "add", "--role", "clerk", "--password-file", pw, "--state", state, "clara"); code != exitOK {
		t.Fatalf("users add: exit %d: %s %s", code, out, errs)
	}
	if code, out, errs := runCLI(ctx, "console", "users", "add", "--role", "technician", "--password-file", pw, "--state", state, "tomas"); code != exitOK {
		t.Fatalf("users add: exit %d: %s %s", code, out, errs)
	}
	if fi, err := os.Stat(filepath.Join(state, "console-users.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("users file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	p := startInProcess(t, f.config("sim://c1?speed=0"), daemonDeps{})
	cctx, stop := context.WithCancel(ctx)
	out := &syncBuffer{}
	exit := make(chan int, 1)
	go func() {
		exit <- cmdConsole(cctx, []string{"--nats", p.d.NATSURL(), f.as("console-1"), "--listen", "127.0.0.1:0", "--state", state}, out, io.Discard)
	}()
	defer func() {
		stop()
		select {
		case code := <-exit:
			if code != exitOK {
				t.Errorf("printerd console exited %d", code)
			}
		case <-time.After(10 * time.Second):
			t.Error("printerd console did not stop")
		}
	}()
	re := regexp.MustCompile(`fingerprint: ([0-9A-F:]+)\n(?s:.*)on (https://\S+)/\n`)
	var m []string
	for deadline := time.Now().Add(20 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		m = re.FindStringSubmatch(string(out.Bytes()))
	}
	if m == nil {
		t.Fatalf("printerd console printed %q, want its fingerprint and address", out.Bytes())
	}
	fingerprint, base := m[1], m[2]
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		// Trust the certificate by the fingerprint printed, as a person
		// would check it in the browser.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if got := strings.ToUpper(hex.EncodeToString(sum[:])); got != strings.ReplaceAll(fingerprint, ":", "") {
				t.Errorf("served certificate %s, printed fingerprint %s", got, fingerprint)
			}
			return nil
		},
	}}}
	page := func(resp *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	body := page(c.Get(base + "/signin"))
	tok := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if tok == nil {
		t.Fatalf("sign-in page has no CSRF token: %s", body)
	}
	body = page(c.PostForm(base+"/signin", url.Values{"csrf": {tok[1]}, "name": {"clara"}, "password": {"a-long-password-1"}}))
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(body, `id="printer-c1"`) && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		body = page(c.Get(base + "/printers"))
	}
	if !strings.Contains(body, `id="printer-c1"`) || !strings.Contains(body, "clara") {
		t.Errorf("printers page after sign-in lacks printer c1 or the person: %s", body)
	}
	// A technician pauses c1 through the console: the daemon audits it as
	// the person via the console's NATS user.
	tjar, _ := cookiejar.New(nil)
	tc := *c
	tc.Jar = tjar
	body = page(tc.Get(base + "/signin"))
	tok = regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	page(tc.PostForm(base+"/signin", url.Values{"csrf": {tok[1]}, "name": {"tomas"}, "password": {"a-long-password-1"}}))
	body = page(tc.Get(base + "/printers"))
	tok = regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if tok == nil {
		t.Fatalf("no CSRF token on tomas's printers page: %s", body)
	}
	body = page(tc.PostForm(base+"/printers/c1/pause", url.Values{"csrf": {tok[1]}}))
	if !strings.Contains(body, "Printer paused") {
		t.Errorf("pause through the console: %s", body)
	}
	code, export, errs := runCLI(ctx, "audit", "export", "--nats", p.d.NATSURL(), f.as("auditor-1"))
	if code != exitOK || !strings.Contains(export, "tomas via console-1") {
		t.Errorf("audit export (exit %d, %s) has no record by \"tomas via console-1\": %s", code, errs, export)
	}
	if _, err := os.Stat(filepath.Join(state, console.SelfCertFile)); err != nil {
		t.Errorf("no self-signed certificate in the state directory: %v", err)
	}
}
