package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout/barcode"
)

// kvRun runs printerd with args and returns the exit status and outputs.
func kvRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := dispatch(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestKeysNew(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		wantAlg string // checked on the written key when code is 0
	}{
		{"issuer default es256", []string{"keys", "new", "--kind", "issuer", "--out", filepath.Join(dir, "a")}, exitOK, "es256"},
		{"issuer ed25519", []string{"keys", "new", "--kind", "issuer", "--alg", "ed25519", "--out", filepath.Join(dir, "b")}, exitOK, "ed25519"},
		{"approver", []string{"keys", "new", "--kind", "approver", "--out", filepath.Join(dir, "a"), "--json"}, exitOK, "ed25519"},
		{"approver es256 refused", []string{"keys", "new", "--kind", "approver", "--alg", "es256", "--out", filepath.Join(dir, "c")}, exitUsage, ""},
		{"no kind", []string{"keys", "new", "--out", filepath.Join(dir, "c")}, exitUsage, ""},
		{"bad kind", []string{"keys", "new", "--kind", "printer", "--out", filepath.Join(dir, "c")}, exitUsage, ""},
		{"no out", []string{"keys", "new", "--kind", "issuer"}, exitUsage, ""},
		{"bad alg", []string{"keys", "new", "--kind", "issuer", "--alg", "rsa", "--out", filepath.Join(dir, "c")}, exitUsage, ""},
		{"unknown flag", []string{"keys", "new", "--kind", "issuer", "--colour", "--out", filepath.Join(dir, "c")}, exitUsage, ""},
		{"existing key kept", []string{"keys", "new", "--kind", "issuer", "--out", filepath.Join(dir, "a")}, exitFail, ""},
		{"help", []string{"keys", "new", "--help"}, exitOK, ""},
		{"keys help", []string{"keys", "--help"}, exitOK, ""},
		{"no verb", []string{"keys"}, exitUsage, ""},
		{"bad verb", []string{"keys", "rotate"}, exitUsage, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := kvRun(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if code != exitOK || tc.wantAlg == "" {
				if code == exitOK && !strings.Contains(out, "usage:") {
					t.Errorf("--help printed no usage on stdout: %q", out)
				}
				return
			}
			var kind, outDir string
			for i, a := range tc.args {
				switch a {
				case "--kind":
					kind = tc.args[i+1]
				case "--out":
					outDir = tc.args[i+1]
				}
			}
			keyPath := filepath.Join(outDir, kind+".key")
			st, err := os.Stat(keyPath)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %o, want 600", keyPath, st.Mode().Perm())
			}
			key, err := keyfile.LoadPrivate(keyPath)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := keyfile.LoadPublic(filepath.Join(outDir, kind+".pub"))
			if err != nil {
				t.Fatal(err)
			}
			kid, _ := keyfile.KIDHex(pub)
			if k2, _ := keyfile.KIDHex(key.Public()); k2 != kid {
				t.Fatal(".key and .pub do not hold the same key")
			}
			if strings.Contains(strings.Join(tc.args, " "), "--json") {
				var res keysNewResult
				if err := json.Unmarshal([]byte(out), &res); err != nil {
					t.Fatalf("--json output: %v\n%s", err, out)
				}
				if res.KID != kid || res.Alg != tc.wantAlg || res.Kind != kind {
					t.Errorf("--json: %+v, want kid %s alg %s", res, kid, tc.wantAlg)
				}
			} else if !strings.Contains(out, "kid: "+kid) || !strings.Contains(out, "BEGIN PUBLIC KEY") {
				t.Errorf("output lacks the kid %s or the public key:\n%s", kid, out)
			}
			wantType := map[string]string{"es256": "*ecdsa.PrivateKey", "ed25519": "ed25519.PrivateKey"}[tc.wantAlg]
			if got := fmt.Sprintf("%T", key); got != wantType {
				t.Errorf("key type %s, want %s", got, wantType)
			}
		})
	}
}

func TestKeysPublishAndID(t *testing.T) {
	dir := t.TempDir()
	for _, kind := range []string{"issuer", "approver"} {
		if code, _, e := kvRun(t, "keys", "new", "--kind", kind, "--out", dir); code != exitOK {
			t.Fatalf("keys new %s: %d %s", kind, code, e)
		}
	}
	list := filepath.Join(dir, "keys.json")
	code, _, errOut := kvRun(t, "keys", "publish", "--out", list, "--valid-from", "2026-01-01", "--valid-to", "2030-12-31",
		filepath.Join(dir, "issuer.pub"), filepath.Join(dir, "approver.pub"))
	if code != exitOK {
		t.Fatalf("publish: %d %s", code, errOut)
	}
	f, err := os.Open(list)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := barcode.ReadKeyList(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Alg != "ES256" || entries[1].Alg != "EdDSA" {
		t.Fatalf("entries %+v", entries)
	}
	if entries[0].ValidFrom.Format("2006-01-02") != "2026-01-01" || entries[0].ValidTo.Format("2006-01-02") != "2030-12-31" {
		t.Errorf("validity %v - %v", entries[0].ValidFrom, entries[0].ValidTo)
	}
	code, out, _ := kvRun(t, "keys", "id", filepath.Join(dir, "issuer.pub"))
	if code != exitOK || !strings.HasPrefix(out, entries[0].KID+"  ") {
		t.Errorf("keys id: %d %q, want kid %s", code, out, entries[0].KID)
	}
	for _, args := range [][]string{
		{"keys", "publish"},
		{"keys", "publish", "--valid-from", "soon", filepath.Join(dir, "issuer.pub")},
		{"keys", "id"},
	} {
		if code, _, _ := kvRun(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, _ := kvRun(t, "keys", "publish", filepath.Join(dir, "issuer.key")); code != exitFail {
		t.Errorf("publish of a private key file: exit %d, want %d", code, exitFail)
	}
}
