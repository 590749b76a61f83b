package embedded

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/cityid/printerd/queue/service"
)

// Roles of the embedded server's users (DESIGN.md: an enrollment system
// may publish jobs only; a clerk may use job control only; a technician
// may use diagnostics only).
const (
	RoleEnrollment = "enrollment" // publish cards.jobs.>, read cards.events.>
	RoleClerk      = "clerk"      // request printerd.jobs.>
	RoleTechnician = "technician" // request printerd.diag.>
	RoleAdmin      = "admin"      // everything (operators with the nats CLI)
)

// User is a NATS user of the embedded server: an nkey (the public user
// key, "U..."; the client keeps the seed) and a role.
type User struct {
	Name string `json:"name"`
	NKey string `json:"nkey"`
	Role string `json:"role"`
}

// LoadUsers reads a JSON array of users, e.g.
//
//	[{"name": "enrollment-1", "nkey": "UDXU4R...", "role": "enrollment"}]
//
// Unknown fields, a bad key and an unknown role are errors that name the
// entry and the rule.
func LoadUsers(path string) ([]User, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("embedded: users: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var us []User
	if err := dec.Decode(&us); err != nil {
		return nil, fmt.Errorf("embedded: users %s: want a JSON array of {name, nkey, role}: %w", path, err)
	}
	if len(us) == 0 {
		return nil, fmt.Errorf("embedded: users %s: no users", path)
	}
	seen := map[string]bool{}
	for i, u := range us {
		if !nkeys.IsValidPublicUserKey(u.NKey) {
			return nil, fmt.Errorf("embedded: users %s: user %d (%s): nkey must be a public user key (U..., nk -gen user -pubout)", path, i, u.Name)
		}
		if _, err := RolePermissions(u.Role); err != nil {
			return nil, fmt.Errorf("embedded: users %s: user %d (%s): %w", path, i, u.Name, err)
		}
		if seen[u.NKey] {
			return nil, fmt.Errorf("embedded: users %s: user %d (%s): nkey listed twice", path, i, u.Name)
		}
		seen[u.NKey] = true
	}
	return us, nil
}

// RolePermissions returns the NATS permissions of a role; nil means all.
func RolePermissions(role string) (*server.Permissions, error) {
	inbox := &server.SubjectPermission{Allow: []string{"_INBOX.>"}}
	switch role {
	case RoleEnrollment:
		return &server.Permissions{
			// Jobs, and reading the daemons' epoch key announcements
			// (the daemon_keys bucket, read with a KV watch) to seal
			// jobs to.
			Publish: &server.SubjectPermission{Allow: []string{"cards.jobs.>",
				"$JS.API.STREAM.INFO.KV_daemon_keys", "$JS.API.CONSUMER.CREATE.KV_daemon_keys",
				"$JS.API.CONSUMER.CREATE.KV_daemon_keys.>", "$JS.API.CONSUMER.DELETE.KV_daemon_keys.>",
				"$JS.FC.KV_daemon_keys.>"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>", "cards.events.>"}},
		}, nil
	case RoleClerk:
		return &server.Permissions{Publish: &server.SubjectPermission{Allow: []string{service.JobsPrefix + ".>"}}, Subscribe: inbox}, nil
	case RoleTechnician:
		return &server.Permissions{Publish: &server.SubjectPermission{Allow: []string{service.DiagPrefix + ".>"}}, Subscribe: inbox}, nil
	case RoleAdmin:
		return nil, nil
	}
	return nil, fmt.Errorf("role %q: want enrollment, clerk, technician or admin", role)
}

// nkeyUsers makes the server's users: the configured ones and the
// daemon's own (full permissions, in-process).
func nkeyUsers(us []User, daemon string) ([]*server.NkeyUser, error) {
	out := []*server.NkeyUser{{Nkey: daemon}}
	for _, u := range us {
		p, err := RolePermissions(u.Role)
		if err != nil {
			return nil, fmt.Errorf("embedded: user %s: %w", u.Name, err)
		}
		out = append(out, &server.NkeyUser{Nkey: u.NKey, Permissions: p})
	}
	return out, nil
}
