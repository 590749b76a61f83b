package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	specs, err := c.printerSpecs()
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

// TestConfigValidate checks each rule's error names its setting.
func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "approvers")
	os.Mkdir(keys, 0o755)
	issuer := filepath.Join(dir, "issuer.key")
	os.WriteFile(issuer, []byte("x"), 0o600)
	creds := filepath.Join(dir, "user.creds")
	os.WriteFile(creds, []byte("x"), 0o600)
	good := func() config {
		c := defaultConfig()
		c.State = dir
		c.Printers = []string{"sim://a"}
		c.ApproverKeys = keys
		c.IssuerKey = issuer
		return c
	}
	if c := good(); c.validate() != nil {
		t.Fatalf("good config: %v", c.validate())
	}
	for _, tc := range []struct {
		setting string
		mod     func(*config)
	}{
		{"state", func(c *config) { c.State = "" }},
		{"site", func(c *config) { c.Site = "a.b" }},
		{"nats-listen", func(c *config) { c.NATSListen = "4222" }},
		{"nats-creds", func(c *config) { c.NATSCreds = creds }},
		{"nats", func(c *config) { c.NATS = "::bad" }},
		{"nats-nkey", func(c *config) { c.NATS, c.NATSCreds, c.NATSNKey = "nats://h:4222", creds, creds }},
		{"nats-cert", func(c *config) { c.NATS, c.NATSCert = "nats://h:4222", creds }},
		{"nats-ca", func(c *config) { c.NATS, c.NATSCA = "nats://h:4222", filepath.Join(dir, "missing.pem") }},
		{"printer", func(c *config) { c.Printers = nil }},
		{"printer[1]", func(c *config) { c.Printers = []string{"sim://a", "sim://a"} }},
		{"printer[0]", func(c *config) { c.Printers = []string{"no-scheme"} }},
		{"printer[0]", func(c *config) { c.Printers = []string{"sim://a?pool=a.b"} }},
		{"approver-keys", func(c *config) { c.ApproverKeys = "" }},
		{"approver-keys", func(c *config) { c.ApproverKeys = issuer }},
		{"issuer-key", func(c *config) { c.IssuerKey = filepath.Join(dir, "nope") }},
		{"http", func(c *config) { c.HTTP = "9464" }},
		{"held-retention", func(c *config) { c.HeldRetention = 0 }},
		{"ack-wait", func(c *config) { c.AckWait = duration(time.Millisecond) }},
		{"log-level", func(c *config) { c.LogLevel = "loud" }},
	} {
		c := good()
		tc.mod(&c)
		err := c.validate()
		if err == nil || !strings.HasPrefix(err.Error(), "config: "+tc.setting+":") {
			t.Errorf("%s: err %v, want one naming the setting", tc.setting, err)
		}
	}
}

func TestPrinterNames(t *testing.T) {
	c := config{Printers: []string{
		"sim://front-desk?speed=0",
		"serial:///dev/ttyUSB0?baud=115200",
		"usb://0f8f:1001?serial=ABC123",
		"tcp://127.0.0.1:9100?pool=back",
		"usb://auto?name=desk2",
		"usb://0f49:abcd",
		"usb://0f49:abcd?pool=back&name=u2",
	}}
	specs, err := c.printerSpecs()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"front-desk/default", "serial-ttyUSB0/default", "usb-ABC123/default", "tcp-127-0-0-1-9100/back", "desk2/default", "usb-0f49-abcd/default", "u2/back"}
	for i, s := range specs {
		if got := s.Name + "/" + s.Pool; got != want[i] {
			t.Errorf("printer %d: %s, want %s", i, got, want[i])
		}
	}
}

func TestDiffSettings(t *testing.T) {
	a := defaultConfig()
	b := a
	b.LogLevel = "debug"
	b.State = "/elsewhere"
	b.Printers = []string{"sim://x"}
	got := strings.Join(diffSettings(a, b), ",")
	if got != "log-level,printer,state" {
		t.Errorf("diff = %s", got)
	}
}

func TestRedactURLs(t *testing.T) {
	got := redactURLs("nats://alice:s3cret@h1:4222, nats://h2:4222")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "h2:4222") {
		t.Errorf("redactURLs = %q", got)
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
		_ = c.validate()
		specs, err := c.printerSpecs()
		if err != nil {
			return
		}
		for _, s := range specs {
			if !validToken(s.Name) || !validToken(s.Pool) {
				t.Errorf("accepted printer %q with name %q pool %q", s.URI, s.Name, s.Pool)
			}
		}
	})
}
