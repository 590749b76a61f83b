package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/daemon"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/epoch"
	"github.com/cityid/printerd/queue/job"
)

// sealForSite does what an enrollment system does before it signs a job:
// it fetches the site's epoch key announcements from daemon_keys, keeps
// those signed by a pinned daemon key, and seals the plain job j for site
// and pool to the current key of every pinned daemon that has one (so any
// of them can print it). It returns the v2 body and what it picked.
func sealForSite(ctx context.Context, js jetstream.JetStream, site, pool string, pinned []keyfile.Public, j *job.Job, now time.Time) ([]byte, *epoch.Pick, error) {
	kv, err := js.KeyValue(ctx, epoch.Bucket)
	if err != nil {
		return nil, nil, fmt.Errorf("bucket %s (is a printerd daemon of the site running?): %w", epoch.Bucket, err)
	}
	pick, err := epoch.Recipients(ctx, kv, site, pinned, now)
	if err != nil {
		return nil, pick, err
	}
	body, err := job.Seal(nil, j, site, pool, pick.Recipients)
	if err != nil {
		return nil, pick, err
	}
	return body, pick, nil
}

// daemonPub reads a daemon's long-term public key from its state
// directory (<state>/daemon.pub), as enrollment pins it.
func daemonPub(state string) (keyfile.Public, error) {
	path := filepath.Join(state, daemon.DaemonKeyName+".pub")
	pub, err := keyfile.LoadPublic(path)
	if err != nil {
		return keyfile.Public{}, err
	}
	kid, err := keyfile.KIDHex(pub)
	if err != nil {
		return keyfile.Public{}, err
	}
	return keyfile.Public{KID: kid, Key: pub, Path: path}, nil
}
