package embedded

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/cityid/printerd/internal/natsconn"
	"github.com/cityid/printerd/internal/trust"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/service"
)

// Roles of printerd's NATS users (DESIGN.md, Identities).
const (
	RoleEnrollment = "enrollment" // publish its site's jobs, read events and its site's daemon keys
	RoleClerk      = "clerk"      // job control of its site, as itself
	RoleTechnician = "technician" // diagnostics of its site's printers, as itself
	RoleAuditor    = "auditor"    // read CARD_AUDIT
	RoleAdmin      = "admin"      // manage streams; never read a job or held body
	RoleConsole    = "console"    // the web console: job control and diagnostics for signed-in people
	RoleDaemon     = "daemon"     // a printing daemon: reads jobs and held bodies, writes the ledger
)

// Roles lists every role, in the order the CLI shows them.
var Roles = []string{RoleEnrollment, RoleClerk, RoleTechnician, RoleAuditor, RoleAdmin, RoleConsole, RoleDaemon}

// Accounts. Roles whose requests must carry the requester's identity live
// in their own account and reach the daemons' services through a service
// import that shares it (the Nats-Request-Info header, set by the server);
// the others live in AccountPrinterd, the account with JetStream.
const (
	AccountPrinterd   = "PRINTERD"
	AccountClerk      = "CLERK"
	AccountTechnician = "TECHNICIAN"
	AccountConsole    = "CONSOLE"
)

// AccountOf returns the account of a role.
func AccountOf(role string) string {
	switch role {
	case RoleClerk:
		return AccountClerk
	case RoleTechnician:
		return AccountTechnician
	case RoleConsole:
		return AccountConsole
	}
	return AccountPrinterd
}

// AllSites is the Site of a user not bound to one site.
const AllSites = "*"

// User is a NATS user: an nkey (the public user key, "U..."; the person or
// system keeps the seed), a role, and the site it acts for ("*" or ""
// means every site).
type User struct {
	Name string `json:"name"`
	NKey string `json:"nkey"`
	Role string `json:"role"`
	Site string `json:"site,omitempty"`
}

// InboxPrefix is the reply-subject prefix of the user with public key
// pub: every client of an authenticated server must use it (nats.go:
// CustomInboxPrefix), and may subscribe to no other inbox, so replies and
// JetStream deliveries reach only the one who asked.
func InboxPrefix(pub string) string { return natsconn.InboxPrefix(pub) }

// ValidName reports whether s can name a user: 1-64 letters, digits, '.',
// '-' or '_'.
func ValidName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
	})
}

// validSite reports whether s is a site token or AllSites.
func validSite(s string) bool {
	if s == "" || s == AllSites {
		return true
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) && len(s) <= 64
}

// Check validates one user: name, key, role and site.
func (u User) Check() error {
	switch {
	case !ValidName(u.Name):
		return fmt.Errorf("name %q: must be 1-64 letters, digits, '.', '-' or '_'", u.Name)
	case !nkeys.IsValidPublicUserKey(u.NKey):
		return fmt.Errorf("user %s: nkey must be a public user key (U...; printerd users add makes one)", u.Name)
	case !slices.Contains(Roles, u.Role):
		return fmt.Errorf("user %s: role %q: want one of %s", u.Name, u.Role, strings.Join(Roles, ", "))
	case !validSite(u.Site):
		return fmt.Errorf("user %s: site %q: must be a site token or \"*\"", u.Name, u.Site)
	case u.Role == RoleEnrollment && (u.Site == "" || u.Site == AllSites):
		return fmt.Errorf("user %s: an enrollment user publishes for one site: set its site", u.Name)
	}
	return nil
}

// LoadUsers reads a users file, a JSON array of users, e.g.
//
//	[{"name": "enrollment-1", "nkey": "UDXU4R...", "role": "enrollment", "site": "city-hall"}]
//
// The file grants access, so it is refused when group or others may write
// it (or its directory). Unknown fields, a bad key and an unknown role are
// errors that name the entry and the rule. An empty array is allowed (only
// the daemon itself then connects).
func LoadUsers(path string) ([]User, error) {
	if err := trust.CheckFile(path); err != nil {
		return nil, fmt.Errorf("embedded: users: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("embedded: users: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var us []User
	if err := dec.Decode(&us); err != nil {
		return nil, fmt.Errorf("embedded: users %s: want a JSON array of {name, nkey, role, site}: %w", path, err)
	}
	seen := map[string]bool{}
	names := map[string]bool{}
	for i, u := range us {
		if err := u.Check(); err != nil {
			return nil, fmt.Errorf("embedded: users %s: user %d: %w", path, i, err)
		}
		if seen[u.NKey] {
			return nil, fmt.Errorf("embedded: users %s: user %d (%s): nkey listed twice", path, i, u.Name)
		}
		if names[u.Name] {
			return nil, fmt.Errorf("embedded: users %s: user %d (%s): name listed twice", path, i, u.Name)
		}
		seen[u.NKey], names[u.Name] = true, true
	}
	return us, nil
}

// AddUser appends u to the users file at path (creating it, mode 0600, and
// its directory, mode 0700), refusing a name or key already there.
func AddUser(path string, u User) error {
	if err := u.Check(); err != nil {
		return fmt.Errorf("embedded: add user: %w", err)
	}
	var us []User
	if _, err := os.Stat(path); err == nil {
		if us, err = LoadUsers(path); err != nil {
			return err
		}
	} else if !os.IsNotExist(err) {
		return fmt.Errorf("embedded: users: %w", err)
	}
	for _, o := range us {
		if o.Name == u.Name {
			return fmt.Errorf("embedded: add user: %s is already in %s", u.Name, path)
		}
	}
	us = append(us, u)
	b, _ := json.MarshalIndent(us, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("embedded: users: %w", err)
	}
	if err := trust.WriteFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("embedded: users: %w", err)
	}
	return nil
}

// Permissions are one user's NATS permissions, as lists of subjects.
type Permissions struct {
	PubAllow, PubDeny, SubAllow []string
	// Responses lets the user reply to requests it received (the daemon's
	// services).
	Responses bool
}

// bodyReaders are the JetStream API subjects that read a job or held body
// (or make a consumer that would): only daemons may use them.
func bodyReaders() []string {
	var out []string
	for _, s := range []string{"CARD_JOBS", "CARD_HELD"} {
		out = append(out,
			"$JS.API.STREAM.MSG.GET."+s,
			"$JS.API.DIRECT.GET."+s,
			"$JS.API.DIRECT.GET."+s+".>",
			"$JS.API.CONSUMER.CREATE."+s,
			"$JS.API.CONSUMER.CREATE."+s+".>",
			"$JS.API.CONSUMER.DURABLE.CREATE."+s+".>",
			"$JS.API.CONSUMER.MSG.NEXT."+s+".>",
		)
	}
	return out
}

// site returns the subject token of a user's site ("*" for all).
func (u User) site() string {
	if u.Site == "" {
		return AllSites
	}
	return u.Site
}

// RolePermissions returns the permissions of user u, whose own key id (the
// daemon's signing key) is kid when known.
func RolePermissions(u User) (Permissions, error) {
	if err := u.Check(); err != nil {
		return Permissions{}, err
	}
	site := u.site()
	inbox := InboxPrefix(u.NKey) + ".>"
	switch u.Role {
	case RoleEnrollment:
		kv := "KV_daemon_keys"
		return Permissions{
			PubAllow: []string{
				"cards.jobs." + site + ".*",
				"$JS.API.INFO",
				"$JS.API.STREAM.INFO." + kv,
				"$JS.API.CONSUMER.CREATE." + kv + ".*.$KV.daemon_keys." + site + ".>",
				"$JS.API.CONSUMER.DELETE." + kv + ".*",
				"$JS.API.DIRECT.GET." + kv + ".$KV.daemon_keys." + site + ".>",
				"$JS.FC." + kv + ".>",
				"$JS.API.STREAM.INFO.CARD_EVENTS",
				"$JS.API.CONSUMER.CREATE.CARD_EVENTS.>",
				"$JS.API.CONSUMER.MSG.NEXT.CARD_EVENTS.>",
				"$JS.API.CONSUMER.DELETE.CARD_EVENTS.>",
				"$JS.ACK.CARD_EVENTS.>",
			},
			SubAllow: []string{inbox, "cards.events.>", "cards.reprints." + site},
		}, nil
	case RoleClerk:
		return Permissions{PubAllow: []string{service.JobsPrefix + "." + site + ".*"}, SubAllow: []string{inbox}}, nil
	case RoleTechnician:
		return Permissions{PubAllow: []string{service.DiagPrefix + "." + site + ".*.*"}, SubAllow: []string{inbox}}, nil
	case RoleConsole:
		// Services for signed-in people; its site's printer status and
		// every job event (events carry no site) for the live pages; reprint
		// requests to its site's enrollment systems.
		return Permissions{PubAllow: []string{service.JobsPrefix + "." + site + ".*", service.DiagPrefix + "." + site + ".*.*", "cards.reprints." + site},
			SubAllow: []string{inbox, "cards.events.>", "$KV." + queue.BucketStatus + "." + site + ".*"}}, nil
	case RoleAuditor:
		a := "CARD_AUDIT"
		return Permissions{
			PubAllow: []string{
				"$JS.API.INFO",
				"$JS.API.STREAM.INFO." + a,
				"$JS.API.STREAM.MSG.GET." + a,
				"$JS.API.DIRECT.GET." + a + ".>",
				"$JS.API.CONSUMER.CREATE." + a,
				"$JS.API.CONSUMER.CREATE." + a + ".>",
				"$JS.API.CONSUMER.MSG.NEXT." + a + ".>",
				"$JS.API.CONSUMER.DELETE." + a + ".>",
				"$JS.API.CONSUMER.INFO." + a + ".>",
			},
			SubAllow: []string{inbox},
		}, nil
	case RoleAdmin:
		return Permissions{
			PubAllow: []string{"$JS.API.>", "$SRV.>"},
			PubDeny:  bodyReaders(),
			SubAllow: []string{inbox},
		}, nil
	case RoleDaemon:
		return Permissions{
			PubAllow: []string{
				"$JS.API.>", "$JS.ACK.>", "$JS.FC.>",
				"cards.jobs." + site + ".*", "cards.held." + site + ".*", "cards.events.>", "cards.audit." + site + ".*",
				"$KV.card_ledger.>", "$KV.card_issues.>", "$KV.printer_status." + site + ".*",
				"$KV.daemon_keys." + site + ".>",
				"_R_.>",
			},
			PubDeny: []string{
				"$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>",
				"$JS.API.STREAM.MSG.DELETE.CARD_AUDIT", "$JS.API.STREAM.MSG.DELETE.CARD_EVENTS",
			},
			SubAllow:  []string{inbox, "cards.events.>", service.JobsPrefix + "." + site + ".*", service.DiagPrefix + "." + site + ".*.*", "$SRV.>"},
			Responses: true,
		}, nil
	}
	return Permissions{}, fmt.Errorf("role %q: want one of %s", u.Role, strings.Join(Roles, ", "))
}
