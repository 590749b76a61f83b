package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/embedded"
)

// config is printerd run's configuration. Every setting has the same name
// as a flag, a key of the JSON config file and, upper-cased with '-' as '_'
// and the prefix PRINTERD_, an environment variable. Precedence: flags >
// environment > file > defaults. A config file (unknown keys are errors):
//
//	{
//	  "state": "/var/lib/printerd",
//	  "site": "city-hall",
//	  "printer": ["usb://auto?name=desk1", "tcp://10.0.0.7:9100?name=desk2&pool=express"],
//	  "approver-keys": "/etc/printerd/approvers",
//	  "issuer-key": "/etc/printerd/issuer.key",
//	  "nats-users": "/etc/printerd/users.json",
//	  "http": "127.0.0.1:9464",
//	  "held-retention": "72h"
//	}
//
// In the environment, PRINTERD_PRINTER holds URIs separated by spaces or
// commas. SIGHUP re-reads everything and applies approver-keys (the
// directory is re-read even if its name is unchanged), log-level and
// held-retention; other changes are logged as needing a restart.
type config struct {
	State         string   `json:"state"`
	NATS          string   `json:"nats"`
	NATSListen    string   `json:"nats-listen"`
	NATSCreds     string   `json:"nats-creds"`
	NATSNKey      string   `json:"nats-nkey"`
	NATSCA        string   `json:"nats-ca"`
	NATSCert      string   `json:"nats-cert"`
	NATSKey       string   `json:"nats-key"`
	NATSUsers     string   `json:"nats-users"`
	Printers      []string `json:"printer"`
	ApproverKeys  string   `json:"approver-keys"`
	IssuerKey     string   `json:"issuer-key"`
	IssuerCode    string   `json:"issuer-code"`
	Templates     string   `json:"templates"`
	Site          string   `json:"site"`
	HTTP          string   `json:"http"`
	HeldRetention duration `json:"held-retention"`
	AckWait       duration `json:"ack-wait"`
	LogLevel      string   `json:"log-level"`

	// file is the config file the settings were read from, if any.
	file string `json:"-"`
}

// duration is a time.Duration written as "72h" in JSON.
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "72h"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"72h\": %w", err)
	}
	*d = duration(v)
	return nil
}

func (d *duration) String() string { return time.Duration(*d).String() }

func (d *duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as 72h")
	}
	*d = duration(v)
	return nil
}

// defaultConfig returns the defaults.
func defaultConfig() config {
	state := os.Getenv("STATE_DIRECTORY") // systemd StateDirectory=
	if state == "" {
		state = "/var/lib/printerd"
	}
	return config{
		State:         state,
		NATSListen:    embedded.DefaultListen,
		Site:          "local",
		HTTP:          "127.0.0.1:9464",
		HeldRetention: duration(queue.DefaultHeldRetention),
		AckWait:       duration(queue.DefaultAckWait),
		LogLevel:      "info",
		IssuerCode:    "CITY",
	}
}

// stringsFlag is a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// setting describes one setting for flags and environment.
type setting struct {
	name  string
	usage string
	str   *string   // string settings
	list  *[]string // repeatable settings
	dur   *duration // duration settings
}

func (c *config) settings() []setting {
	return []setting{
		{name: "state", usage: "state directory: JetStream store, encryption key (default $STATE_DIRECTORY or /var/lib/printerd)", str: &c.State},
		{name: "nats", usage: "NATS URL of an existing deployment; empty embeds nats-server", str: &c.NATS},
		{name: "nats-listen", usage: "host:port the embedded nats-server listens on (port 0: a free port; \"none\": in-process only)", str: &c.NATSListen},
		{name: "nats-creds", usage: "NATS credentials file (JWT + nkey) for --nats", str: &c.NATSCreds},
		{name: "nats-nkey", usage: "NATS nkey seed file for --nats", str: &c.NATSNKey},
		{name: "nats-ca", usage: "CA certificate (PEM) to verify the NATS server", str: &c.NATSCA},
		{name: "nats-cert", usage: "client certificate (PEM) for NATS TLS", str: &c.NATSCert},
		{name: "nats-key", usage: "client key (PEM) for NATS TLS", str: &c.NATSKey},
		{name: "nats-users", usage: "JSON file of the embedded server's users: [{\"name\", \"nkey\" (public U... key), \"role\" (enrollment, clerk, technician or admin)}]; unset: no authentication", str: &c.NATSUsers},
		{name: "printer", usage: "printer URI (repeatable); ?pool=NAME puts it in a pool, ?name=NAME names it", list: &c.Printers},
		{name: "approver-keys", usage: "directory of trusted approver public keys (*.pub)", str: &c.ApproverKeys},
		{name: "issuer-key", usage: "issuer private key file (PEM, mode 0600) that signs card barcodes", str: &c.IssuerKey},
		{name: "issuer-code", usage: "issuer code in the card barcode", str: &c.IssuerCode},
		{name: "templates", usage: "directory of extra card templates (*.json)", str: &c.Templates},
		{name: "site", usage: "site name: the <site> token of subjects", str: &c.Site},
		{name: "http", usage: "host:port for /metrics and /healthz; empty disables", str: &c.HTTP},
		{name: "held-retention", usage: "how long CARD_HELD keeps a held job's body", dur: &c.HeldRetention},
		{name: "ack-wait", usage: "how long JetStream waits for a worker's ack before redelivering (in-progress acks extend it while a card prints); after a crash, the job in the printer is redelivered, and held, after this", dur: &c.AckWait},
		{name: "log-level", usage: "debug, info, warn or error", str: &c.LogLevel},
	}
}

// envName is the environment variable of a setting.
func envName(setting string) string {
	return "PRINTERD_" + strings.ToUpper(strings.ReplaceAll(setting, "-", "_"))
}

// loadConfig builds the configuration from defaults, the config file
// (--config or PRINTERD_CONFIG), the environment and the flags in args.
// getenv is os.Getenv in production. It returns flag.ErrHelp for --help.
func loadConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c := defaultConfig()
	// Parse flags into a separate config, then apply in order.
	var fc config
	fs := flag.NewFlagSet("printerd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "JSON config file (also PRINTERD_CONFIG)")
	var printers stringsFlag
	defs := c.settings()
	for i, s := range fc.settings() {
		usage := s.usage + " [" + envName(s.name)
		if d := settingValue(defs[i]); d != "" && s.name != "state" {
			usage += "; default " + d
		}
		usage += "]"
		switch {
		case s.list != nil:
			fs.Var(&printers, s.name, usage)
		case s.dur != nil:
			fs.Var(s.dur, s.name, usage)
		default:
			fs.StringVar(s.str, s.name, "", usage)
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: printerd %s [--config FILE] [flags]\n\n"+
			"Every flag is also a key of the JSON config file and an environment variable (in brackets).\n"+
			"Precedence: flags > environment > config file > defaults.\n\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("printerd %s: unexpected argument %q", name, fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	file := *configFile
	if file == "" {
		file = getenv("PRINTERD_CONFIG")
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return c, fmt.Errorf("config: %s: %w", file, err)
		}
		c.file = file
	}
	for _, s := range c.settings() {
		v := getenv(envName(s.name))
		if v == "" {
			continue
		}
		switch {
		case s.list != nil:
			*s.list = splitList(v)
		case s.dur != nil:
			if err := s.dur.Set(v); err != nil {
				return c, fmt.Errorf("config: %s: %w", envName(s.name), err)
			}
		default:
			*s.str = v
		}
	}
	flagSettings := fc.settings()
	for i, s := range c.settings() {
		if !set[s.name] {
			continue
		}
		switch {
		case s.list != nil:
			*s.list = append([]string(nil), printers...)
		case s.dur != nil:
			*s.dur = *flagSettings[i].dur
		default:
			*s.str = *flagSettings[i].str
		}
	}
	return c, nil
}

// splitList splits a list setting from the environment: printer URIs
// separated by whitespace or commas outside a query (URIs use '&').
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == ',' })
}

// printerSpec is one configured printer.
type printerSpec struct {
	Name string
	Pool string
	URI  string
}

// validate checks every setting and returns an error naming the first bad
// one and the rule.
func (c *config) validate() error {
	bad := func(setting, rule string) error {
		return fmt.Errorf("config: %s: %s", setting, rule)
	}
	if c.State == "" {
		return bad("state", "must name a directory")
	}
	if !validToken(c.Site) {
		return bad("site", "must be 1-64 letters, digits, '-' or '_'")
	}
	if c.NATS == "" {
		if c.NATSUsers != "" {
			if _, err := embedded.LoadUsers(c.NATSUsers); err != nil {
				return bad("nats-users", err.Error())
			}
		}
		if c.NATSListen != "none" {
			if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
				return bad("nats-listen", "must be host:port or \"none\"")
			}
		}
		for _, s := range []struct{ name, v string }{{"nats-creds", c.NATSCreds}, {"nats-nkey", c.NATSNKey}, {"nats-ca", c.NATSCA}, {"nats-cert", c.NATSCert}, {"nats-key", c.NATSKey}} {
			if s.v != "" {
				return bad(s.name, "only applies with nats (a URL of an existing deployment)")
			}
		}
	} else {
		if c.NATSUsers != "" {
			return bad("nats-users", "only applies to the embedded server (nats unset); a deployment has its own users")
		}
		for _, u := range strings.Split(c.NATS, ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			if err != nil || pu.Host == "" {
				return bad("nats", "must be a URL such as nats://host:4222 (comma-separated for a cluster)")
			}
		}
		if c.NATSCreds != "" && c.NATSNKey != "" {
			return bad("nats-nkey", "give nats-creds or nats-nkey, not both")
		}
		if (c.NATSCert == "") != (c.NATSKey == "") {
			return bad("nats-cert", "nats-cert and nats-key go together")
		}
		for _, s := range []struct{ name, v string }{{"nats-creds", c.NATSCreds}, {"nats-nkey", c.NATSNKey}, {"nats-ca", c.NATSCA}, {"nats-cert", c.NATSCert}, {"nats-key", c.NATSKey}} {
			if s.v == "" {
				continue
			}
			if _, err := os.Stat(s.v); err != nil {
				return bad(s.name, "file not readable: "+errors.Unwrap(err).Error())
			}
		}
	}
	if len(c.Printers) == 0 {
		return bad("printer", "at least one printer URI is needed, e.g. --printer usb://auto or --printer 'sim://desk?out=out&speed=0'")
	}
	if _, err := c.printerSpecs(); err != nil {
		return err
	}
	if c.ApproverKeys == "" {
		return bad("approver-keys", "must name the directory of trusted approver public keys (*.pub)")
	}
	if st, err := os.Stat(c.ApproverKeys); err != nil || !st.IsDir() {
		return bad("approver-keys", "must be a readable directory")
	}
	if c.IssuerKey == "" {
		return bad("issuer-key", "must name the issuer private key file (printerd keys new --kind issuer)")
	}
	if _, err := os.Stat(c.IssuerKey); err != nil {
		return bad("issuer-key", "file not readable")
	}
	if c.HTTP != "" {
		if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
			return bad("http", "must be host:port or empty")
		}
	}
	if c.HeldRetention < duration(time.Minute) {
		return bad("held-retention", "must be at least 1m")
	}
	if c.AckWait < duration(time.Second) {
		return bad("ack-wait", "must be at least 1s")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return bad("log-level", err.Error())
	}
	return nil
}

// printerSpecs parses the printer URIs: names (the name= parameter, or one
// derived from the URI) must be unique subject tokens; pools come from pool=.
func (c *config) printerSpecs() ([]printerSpec, error) {
	var out []printerSpec
	seen := map[string]string{}
	for i, raw := range c.Printers {
		setting := fmt.Sprintf("printer[%d]", i)
		u, err := drivers.ParseURI(raw)
		if err != nil || u.Scheme == "" {
			return nil, fmt.Errorf("config: %s: must be a URI such as usb://auto, serial:///dev/ttyUSB0 or sim://NAME", setting)
		}
		q := u.Query()
		name := q.Get("name")
		if name == "" {
			name = derivedName(u)
		}
		if !validToken(name) {
			return nil, fmt.Errorf("config: %s: printer name %q must be letters, digits, '-' or '_' (set ?name=NAME)", setting, name)
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("config: %s: printer name %q is also %s (set ?name=NAME)", setting, name, prev)
		}
		seen[name] = setting
		pool := q.Get("pool")
		if pool == "" {
			pool = queue.DefaultPool
		}
		if !validToken(pool) {
			return nil, fmt.Errorf("config: %s: pool must be letters, digits, '-' or '_'", setting)
		}
		out = append(out, printerSpec{Name: name, Pool: pool, URI: raw})
	}
	return out, nil
}

// derivedName makes a printer name from a URI without name=.
func derivedName(u *url.URL) string {
	var s string
	switch {
	case u.Query().Get("serial") != "":
		s = u.Scheme + "-" + u.Query().Get("serial")
	case u.Host != "" && u.Scheme == "sim":
		s = u.Host
	case u.Host != "":
		s = u.Scheme + "-" + u.Host
	case u.Opaque != "":
		s = u.Scheme + "-" + u.Opaque
	default:
		s = u.Scheme + "-" + path.Base(u.Path)
	}
	b := []byte(s)
	for i, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			b[i] = '-'
		}
	}
	return string(b)
}

// validToken reports whether s can be one NATS subject token and KV key.
func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, errors.New("must be debug, info, warn or error")
	}
	return l, nil
}

// liveSettings are the settings SIGHUP applies; every other change needs a
// restart.
var liveSettings = map[string]bool{"approver-keys": true, "log-level": true, "held-retention": true}

// diffSettings names the settings whose values differ between a and b, sorted.
func diffSettings(a, b config) []string {
	var out []string
	as, bs := a.settings(), b.settings()
	for i := range as {
		if settingValue(as[i]) != settingValue(bs[i]) {
			out = append(out, as[i].name)
		}
	}
	sort.Strings(out)
	return out
}

func settingValue(s setting) string {
	switch {
	case s.list != nil:
		return strings.Join(*s.list, "\x00")
	case s.dur != nil:
		return s.dur.String()
	}
	return *s.str
}
