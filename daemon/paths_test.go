package daemon

import (
	"strings"
	"testing"
)

// TestMissingFilesNamed: a key file or directory that does not exist is
// reported with its path, so an operator sees which file to fix.
func TestMissingFilesNamed(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		set  func(c *Config)
		path string
	}{
		{func(c *Config) { c.IssuerKey = "/nonexistent/keys/issuer.key" }, "/nonexistent/keys/issuer.key"},
		{func(c *Config) { c.ApproverKeys = "/nonexistent/approvers" }, "/nonexistent/approvers"},
		{func(c *Config) { c.NATS = "nats://127.0.0.1:4222"; c.NATSCreds = "/nonexistent/user.creds" }, "/nonexistent/user.creds"},
	} {
		c := f.cfg
		tc.set(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("Validate with %s missing: %v; want the path named", tc.path, err)
		}
	}
}
