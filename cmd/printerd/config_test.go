package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/queue"
)

// TestConfigPrecedence checks flags > environment > file > defaults.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "printerd.json")
	os.WriteFile(file, []byte(`{"site":"file-site","http":"127.0.0.1:1","held-retention":"24h","printer":["sim://a","sim://b"],"log-level":"warn"}`), 0o644)
	env := map[string]string{
		"PRINTERD_CONFIG":  file,
		"PRINTERD_HTTP":    "127.0.0.1:2",
		"PRINTERD_PRINTER": "sim://c?pool=x sim://d",
		"PRINTERD_STATE":   "/env/state",
	}
	getenv := func(k string) string { return env[k] }
	c, err := loadConfig("run", []string{"--state", "/flag/state", "--printer", "sim://e", "--printer", "sim://f"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"site (file)", c.Site, "file-site"},
		{"http (env over file)", c.HTTP, "127.0.0.1:2"},
		{"state (flag over env)", c.State, "/flag/state"},
		{"printer (flag over env over file)", strings.Join(c.Printers, " "), "sim://e sim://f"},
		{"held-retention (file)", time.Duration(c.HeldRetention).String(), "24h0m0s"},
		{"nats-listen (default)", c.NATSListen, "127.0.0.1:4222"},
		{"log-level (file)", c.LogLevel, "warn"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	delete(env, "PRINTERD_PRINTER")
	c, _ = loadConfig("run", nil, getenv, io.Discard)
	if got := strings.Join(c.Printers, " "); got != "sim://a sim://b" {
		t.Errorf("printers from file = %q", got)
	}
	env["PRINTERD_PRINTER"] = "sim://c?pool=x,sim://d"
	c, _ = loadConfig("run", nil, getenv, io.Discard)
	specs, err := c.PrinterSpecs()
	if err != nil || len(specs) != 2 || specs[0].Pool != "x" || specs[1].Pool != "default" || specs[0].Name != "c" {
		t.Errorf("printer specs from env = %+v, %v", specs, err)
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ body, want string }{
		{`{"stat":"x"}`, `unknown field "stat"`},
		{`{"held-retention":"soon"}`, "duration"},
		{`{`, "EOF"},
	} {
		file := filepath.Join(dir, "c.json")
		os.WriteFile(file, []byte(tc.body), 0o644)
		_, err := loadConfig("run", []string{"--config", file}, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %s: err %v, want %q", tc.body, err, tc.want)
		}
	}
}

// FuzzConfig feeds arbitrary config files and printer URIs: loading and
// validating never panic, and every accepted printer has a valid name and
// pool.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"site":"a","printer":["sim://x?pool=p"]}`), "usb://auto?name=desk")
	f.Add([]byte(`{"held-retention":"1h","ack-wait":"3s"}`), "serial:///dev/ttyUSB0")
	f.Add([]byte(`{"printer":"sim://x"}`), "tcp://[::1]:9100")
	f.Add([]byte(`[]`), "%zz")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file []byte, uri string) {
		path := filepath.Join(dir, "c.json")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Skip()
		}
		c, err := loadConfig("run", []string{"--config", path, "--printer", uri}, func(string) string { return "" }, io.Discard)
		if err != nil {
			return
		}
		_ = c.Validate()
		specs, err := c.PrinterSpecs()
		if err != nil {
			return
		}
		for _, s := range specs {
			if !queue.ValidToken(s.Name) || !queue.ValidToken(s.Pool) {
				t.Errorf("accepted printer %q with name %q pool %q", s.URI, s.Name, s.Pool)
			}
		}
	})
}

// TestConfigAcceptV1: accept-v1 is off by default and set from the file,
// the environment or the flag, in that order of precedence.
func TestConfigAcceptV1(t *testing.T) {
	dir := t.TempDir()
	on := filepath.Join(dir, "on.json")
	os.WriteFile(on, []byte(`{"accept-v1":true}`), 0o644)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want bool
		err  string
	}{
		{"default", nil, nil, false, ""},
		{"file", map[string]string{"PRINTERD_CONFIG": on}, nil, true, ""},
		{"env over file", map[string]string{"PRINTERD_CONFIG": on, "PRINTERD_ACCEPT_V1": "false"}, nil, false, ""},
		{"flag", nil, []string{"--accept-v1"}, true, ""},
		{"flag over env", map[string]string{"PRINTERD_ACCEPT_V1": "true"}, []string{"--accept-v1=false"}, false, ""},
		{"env not a boolean", map[string]string{"PRINTERD_ACCEPT_V1": "maybe"}, nil, false, "PRINTERD_ACCEPT_V1: want true or false"},
	} {
		c, err := loadConfig("run", tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || c.AcceptV1 != tc.want {
			t.Errorf("%s: accept-v1 = %v (%v), want %v", tc.name, c.AcceptV1, err, tc.want)
		}
	}
}
