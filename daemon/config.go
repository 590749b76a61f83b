package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/embedded"
)

// Config is the daemon's settings. Every setting has a name (Setting.Name)
// that cmd/printerd uses for its flag, its key in the JSON config file and
// its PRINTERD_* environment variable; the JSON tags are those names. A
// config file (unknown keys are errors):
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
// Reload applies approver-keys (the directory is re-read even if its name
// is unchanged), log-level and held-retention ([LiveSettings]); other
// changes are logged as needing a restart.
type Config struct {
	State          string   `json:"state"`
	NATS           string   `json:"nats"`
	NATSListen     string   `json:"nats-listen"`
	NATSCreds      string   `json:"nats-creds"`
	NATSNKey       string   `json:"nats-nkey"`
	NATSCA         string   `json:"nats-ca"`
	NATSCert       string   `json:"nats-cert"`
	NATSKey        string   `json:"nats-key"`
	NATSUsers      string   `json:"nats-users"`
	InsecureNoAuth bool     `json:"insecure-no-auth"`
	StoreKey       string   `json:"store-key"`
	Printers       []string `json:"printer"`
	ApproverKeys   string   `json:"approver-keys"`
	IssuerKey      string   `json:"issuer-key"`
	IssuerCode     string   `json:"issuer-code"`
	Templates      string   `json:"templates"`
	Site           string   `json:"site"`
	HTTP           string   `json:"http"`
	ConsoleListen  string   `json:"console-listen"`
	ConsoleUsers   string   `json:"console-users"`
	ConsoleCert    string   `json:"console-tls-cert"`
	ConsoleKey     string   `json:"console-tls-key"`
	HeldRetention  Duration `json:"held-retention"`
	JobsMaxAge     Duration `json:"jobs-max-age"`
	AllowRaw       bool     `json:"allow-raw"`
	AckWait        Duration `json:"ack-wait"`
	LogLevel       string   `json:"log-level"`
	LogFormat      string   `json:"log-format"`
	AcceptV1       bool     `json:"accept-v1"`
}

// Duration is a time.Duration written as "72h" in JSON and flags.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "72h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string such as "72h".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "72h"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"72h\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// String implements flag.Value.
func (d *Duration) String() string { return time.Duration(*d).String() }

// Set implements flag.Value.
func (d *Duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as 72h")
	}
	*d = Duration(v)
	return nil
}

// DefaultConfig returns the defaults. state is $STATE_DIRECTORY (systemd
// StateDirectory=) or /var/lib/printerd.
func DefaultConfig() Config {
	state := os.Getenv("STATE_DIRECTORY")
	if state == "" {
		state = "/var/lib/printerd"
	}
	return Config{
		State:         state,
		NATSListen:    embedded.DefaultListen,
		Site:          "local",
		HTTP:          "127.0.0.1:9464",
		HeldRetention: Duration(queue.DefaultHeldRetention),
		JobsMaxAge:    Duration(queue.DefaultJobsMaxAge),
		AckWait:       Duration(queue.DefaultAckWait),
		LogLevel:      "info",
		IssuerCode:    "CITY",
	}
}

// Setting describes one setting for flags, environment and reload: its
// name, usage, and a pointer to its field (exactly one of Str, List, Dur,
// Bool).
type Setting struct {
	Name  string
	Usage string
	Str   *string   // string settings
	List  *[]string // repeatable settings
	Dur   *Duration // duration settings
	Bool  *bool     // switches
}

// Value returns the setting's value as text (a list joined by NUL; a
// boolean as "true" or "false").
func (s Setting) Value() string {
	switch {
	case s.List != nil:
		return strings.Join(*s.List, "\x00")
	case s.Dur != nil:
		return s.Dur.String()
	case s.Bool != nil:
		return strconv.FormatBool(*s.Bool)
	}
	return *s.Str
}

// Settings returns c's settings, in a fixed order, pointing into c.
func (c *Config) Settings() []Setting {
	return []Setting{
		{Name: "state", Usage: "state directory: JetStream store, encryption key (default $STATE_DIRECTORY or /var/lib/printerd)", Str: &c.State},
		{Name: "nats", Usage: "NATS URL of an existing deployment; empty embeds nats-server", Str: &c.NATS},
		{Name: "nats-listen", Usage: "host:port the embedded nats-server listens on (port 0: a free port; \"none\": in-process only)", Str: &c.NATSListen},
		{Name: "nats-creds", Usage: "NATS credentials file (JWT + nkey) for --nats", Str: &c.NATSCreds},
		{Name: "nats-nkey", Usage: "NATS nkey seed file for --nats", Str: &c.NATSNKey},
		{Name: "nats-ca", Usage: "CA certificate (PEM) to verify the NATS server", Str: &c.NATSCA},
		{Name: "nats-cert", Usage: "client certificate (PEM) for NATS TLS", Str: &c.NATSCert},
		{Name: "nats-key", Usage: "client key (PEM) for NATS TLS", Str: &c.NATSKey},
		{Name: "nats-users", Usage: "users file (printerd users add): who may connect to the embedded server, and the names of the operators a joined deployment's server attests (default <state>/users.json when it exists); without users the embedded server takes no network clients", Str: &c.NATSUsers},
		{Name: "insecure-no-auth", Usage: "let any client that reaches nats-listen connect without credentials and do anything (a lab only; logged loudly)", Bool: &c.InsecureNoAuth},
		{Name: "store-key", Usage: "file holding the JetStream store's encryption key (default $CREDENTIALS_DIRECTORY/jetstream.key under systemd, else <state>/jetstream.key); a missing key is never replaced while the store exists", Str: &c.StoreKey},
		{Name: "printer", Usage: "printer URI (repeatable); ?pool=NAME puts it in a pool, ?name=NAME names it", List: &c.Printers},
		{Name: "approver-keys", Usage: "directory of trusted approver public keys (*.pub)", Str: &c.ApproverKeys},
		{Name: "issuer-key", Usage: "issuer private key file (PEM, mode 0600) that signs card barcodes", Str: &c.IssuerKey},
		{Name: "issuer-code", Usage: "issuer code in the card barcode", Str: &c.IssuerCode},
		{Name: "templates", Usage: "directory of extra card templates (*.json)", Str: &c.Templates},
		{Name: "site", Usage: "site name: the <site> token of subjects", Str: &c.Site},
		{Name: "http", Usage: "host:port for /metrics and /healthz; empty disables", Str: &c.HTTP},
		{Name: "console-listen", Usage: "host:port the office console listens on (HTTPS); empty: no console (printerd console serves one apart)", Str: &c.ConsoleListen},
		{Name: "console-users", Usage: "console users file (printerd console users add); default <state>/console-users.json", Str: &c.ConsoleUsers},
		{Name: "console-tls-cert", Usage: "the console's TLS certificate (PEM); empty: a self-signed one made in the state directory, its fingerprint logged", Str: &c.ConsoleCert},
		{Name: "console-tls-key", Usage: "the console's TLS key (PEM), with console-tls-cert", Str: &c.ConsoleKey},
		{Name: "held-retention", Usage: "how long CARD_HELD keeps a held job's body", Dur: &c.HeldRetention},
		{Name: "jobs-max-age", Usage: "how long CARD_JOBS keeps a job nobody printed (e.g. on a pool without printers)", Dur: &c.JobsMaxAge},
		{Name: "allow-raw", Usage: "let technicians send any raw printer command (diag raw); without it only read and status commands pass", Bool: &c.AllowRaw},
		{Name: "ack-wait", Usage: "how long JetStream waits for a worker's ack before redelivering (in-progress acks extend it while a card prints); after a crash, the job in the printer is redelivered, and held, after this", Dur: &c.AckWait},
		{Name: "log-level", Usage: "debug, info, warn or error", Str: &c.LogLevel},
		{Name: "log-format", Usage: "text or json; empty: text on a terminal, json otherwise (journald, files)", Str: &c.LogFormat},
		{Name: "accept-v1", Usage: "also print v1 jobs, whose person's data cross the bus in plaintext, during a migration to sealed (v2) jobs; logged as a warning at start and for every such job", Bool: &c.AcceptV1},
	}
}

// ConsoleUsersFile is the console users file: console-users, or
// console-users.json in the state directory.
func (c *Config) ConsoleUsersFile() string {
	if c.ConsoleUsers != "" {
		return c.ConsoleUsers
	}
	return filepath.Join(c.State, "console-users.json")
}

// PrinterSpec is one configured printer.
type PrinterSpec struct {
	Name string
	Pool string
	URI  string
}

// Validate checks every setting and returns an error naming the first bad
// one and the rule: "config: <setting>: <rule>".
func (c *Config) Validate() error {
	bad := func(setting, rule string) error {
		return fmt.Errorf("config: %s: %s", setting, rule)
	}
	if c.State == "" {
		return bad("state", "must name a directory")
	}
	if !queue.ValidToken(c.Site) {
		return bad("site", "must be 1-64 letters, digits, '-' or '_'")
	}
	if c.NATSUsers != "" {
		if _, err := embedded.LoadUsers(c.NATSUsers); err != nil {
			return bad("nats-users", err.Error())
		}
	}
	if c.NATS == "" {
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
		if c.InsecureNoAuth {
			return bad("insecure-no-auth", "only applies to the embedded server (nats unset)")
		}
		if c.StoreKey != "" {
			return bad("store-key", "only applies to the embedded server (nats unset)")
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
				return bad(s.name, "file not readable: "+err.Error())
			}
		}
	}
	if len(c.Printers) == 0 {
		return bad("printer", "at least one printer URI is needed, e.g. --printer usb://auto or --printer 'sim://desk?out=out&speed=0'")
	}
	if _, err := c.PrinterSpecs(); err != nil {
		return err
	}
	if c.ApproverKeys == "" {
		return bad("approver-keys", "must name the directory of trusted approver public keys (*.pub)")
	}
	if st, err := os.Stat(c.ApproverKeys); err != nil {
		return bad("approver-keys", "must be a readable directory: "+err.Error())
	} else if !st.IsDir() {
		return bad("approver-keys", "must be a readable directory: "+c.ApproverKeys+" is not a directory")
	}
	if c.IssuerKey == "" {
		return bad("issuer-key", "must name the issuer private key file (printerd keys new --kind issuer)")
	}
	if _, err := os.Stat(c.IssuerKey); err != nil {
		return bad("issuer-key", "file not readable: "+err.Error())
	}
	if c.HTTP != "" {
		if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
			return bad("http", "must be host:port or empty")
		}
	}
	if c.ConsoleListen != "" {
		if _, _, err := net.SplitHostPort(c.ConsoleListen); err != nil {
			return bad("console-listen", "must be host:port or empty")
		}
		if c.NATS != "" {
			return bad("console-listen", "serves the console of a daemon with the embedded server (nats unset); with a deployment run printerd console apart, as a console user")
		}
		if c.ConsoleListen == c.HTTP {
			return bad("console-listen", "must differ from http: metrics and health stay apart from the console")
		}
	}
	if (c.ConsoleCert == "") != (c.ConsoleKey == "") {
		return bad("console-tls-cert", "console-tls-cert and console-tls-key go together")
	}
	if c.HeldRetention < Duration(time.Minute) {
		return bad("held-retention", "must be at least 1m")
	}
	if c.JobsMaxAge < Duration(time.Hour) {
		return bad("jobs-max-age", "must be at least 1h")
	}
	if c.AckWait < Duration(time.Second) {
		return bad("ack-wait", "must be at least 1s")
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		return bad("log-level", err.Error())
	}
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		return bad("log-format", "must be text or json (empty: text on a terminal, json otherwise)")
	}
	return nil
}

// URIParams are the printer URI parameters the daemon reads itself (name=
// and pool=), for drivers.Registry.RegisterParams.
var URIParams = []string{"name", "pool"}

// PrinterSpecs parses the printer URIs: names (the name= parameter, or one
// derived from the URI) must be unique subject tokens; pools come from pool=.
func (c *Config) PrinterSpecs() ([]PrinterSpec, error) {
	var out []PrinterSpec
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
		if !queue.ValidToken(name) {
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
		if !queue.ValidToken(pool) {
			return nil, fmt.Errorf("config: %s: pool must be letters, digits, '-' or '_'", setting)
		}
		out = append(out, PrinterSpec{Name: name, Pool: pool, URI: raw})
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

// ParseLevel parses a log-level setting.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, errors.New("must be debug, info, warn or error")
	}
	return l, nil
}

// LiveSettings are the settings Reload applies; every other change needs a
// restart.
var LiveSettings = map[string]bool{"approver-keys": true, "log-level": true, "held-retention": true}

// Diff names the settings whose values differ between a and b, sorted.
func Diff(a, b Config) []string {
	var out []string
	as, bs := a.Settings(), b.Settings()
	for i := range as {
		if as[i].Value() != bs[i].Value() {
			out = append(out, as[i].Name)
		}
	}
	sort.Strings(out)
	return out
}
