package natsconn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

func TestRedactURLs(t *testing.T) {
	got := RedactURLs("nats://alice:s3cret@h1:4222, nats://h2:4222")
	if got != "nats://alice:xxxxx@h1:4222,nats://h2:4222" {
		t.Errorf("RedactURLs = %q", got)
	}
}

// TestSeedReadableRefused: a seed file group or others may read is
// refused before any connection is tried, naming the setting.
func TestSeedReadableRefused(t *testing.T) {
	dir := t.TempDir()
	kp, _ := nkeys.CreateUser()
	seed, _ := kp.Seed()
	path := filepath.Join(dir, "u.nk")
	os.WriteFile(path, seed, 0o644)
	if _, err := (Options{URL: "nats://127.0.0.1:1", NKey: path}).Connect("t"); err == nil || !strings.Contains(err.Error(), "nats-nkey") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("readable seed: %v, want refused", err)
	}
	os.Chmod(path, 0o600)
	if _, err := (Options{URL: "nats://127.0.0.1:1", NKey: path}).Connect("t"); err == nil || strings.Contains(err.Error(), "chmod") {
		t.Errorf("private seed: %v, want only a connection failure", err)
	}
}
