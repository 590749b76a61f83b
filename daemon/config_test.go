package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigValidate checks each rule's error names its setting.
func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "approvers")
	os.Mkdir(keys, 0o755)
	issuer := filepath.Join(dir, "issuer.key")
	os.WriteFile(issuer, []byte("x"), 0o600)
	creds := filepath.Join(dir, "user.creds")
	os.WriteFile(creds, []byte("x"), 0o600)
	good := func() Config {
		c := DefaultConfig()
		c.State = dir
		c.Printers = []string{"sim://a"}
		c.ApproverKeys = keys
		c.IssuerKey = issuer
		return c
	}
	if c := good(); c.Validate() != nil {
		t.Fatalf("good config: %v", c.Validate())
	}
	for _, tc := range []struct {
		setting string
		mod     func(*Config)
	}{
		{"state", func(c *Config) { c.State = "" }},
		{"site", func(c *Config) { c.Site = "a.b" }},
		{"nats-listen", func(c *Config) { c.NATSListen = "4222" }},
		{"nats-creds", func(c *Config) { c.NATSCreds = creds }},
		{"nats", func(c *Config) { c.NATS = "::bad" }},
		{"nats-nkey", func(c *Config) { c.NATS, c.NATSCreds, c.NATSNKey = "nats://h:4222", creds, creds }},
		{"nats-cert", func(c *Config) { c.NATS, c.NATSCert = "nats://h:4222", creds }},
		{"nats-ca", func(c *Config) { c.NATS, c.NATSCA = "nats://h:4222", filepath.Join(dir, "missing.pem") }},
		{"printer", func(c *Config) { c.Printers = nil }},
		{"printer[1]", func(c *Config) { c.Printers = []string{"sim://a", "sim://a"} }},
		{"printer[0]", func(c *Config) { c.Printers = []string{"no-scheme"} }},
		{"printer[0]", func(c *Config) { c.Printers = []string{"sim://a?pool=a.b"} }},
		{"approver-keys", func(c *Config) { c.ApproverKeys = "" }},
		{"approver-keys", func(c *Config) { c.ApproverKeys = issuer }},
		{"issuer-key", func(c *Config) { c.IssuerKey = filepath.Join(dir, "nope") }},
		{"http", func(c *Config) { c.HTTP = "9464" }},
		{"console-listen", func(c *Config) { c.ConsoleListen = "8443" }},
		{"console-listen", func(c *Config) { c.ConsoleListen, c.HTTP = "127.0.0.1:9464", "127.0.0.1:9464" }},
		{"console-tls-cert", func(c *Config) { c.ConsoleCert = creds }},
		{"held-retention", func(c *Config) { c.HeldRetention = 0 }},
		{"ack-wait", func(c *Config) { c.AckWait = Duration(time.Millisecond) }},
		{"log-level", func(c *Config) { c.LogLevel = "loud" }},
	} {
		c := good()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "config: "+tc.setting+":") {
			t.Errorf("%s: err %v, want one naming the setting", tc.setting, err)
		}
	}
}

func TestPrinterNames(t *testing.T) {
	c := Config{Printers: []string{
		"sim://front-desk?speed=0",
		"serial:///dev/ttyUSB0?baud=115200",
		"usb://0f8f:1001?serial=ABC123",
		"tcp://127.0.0.1:9100?pool=back",
		"usb://auto?name=desk2",
		"usb://0f49:abcd",
		"usb://0f49:abcd?pool=back&name=u2",
	}}
	specs, err := c.PrinterSpecs()
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
	a := DefaultConfig()
	b := a
	b.LogLevel = "debug"
	b.State = "/elsewhere"
	b.Printers = []string{"sim://x"}
	got := strings.Join(Diff(a, b), ",")
	if got != "log-level,printer,state" {
		t.Errorf("diff = %s", got)
	}
}
