package epoch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/seal"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the JetStream KV bucket of epoch key announcements.
const Bucket = "daemon_keys"

// KVKey is where an announcement is stored: <site>.<daemon kid>.<epoch id>.
func KVKey(site, daemon, epochID string) string { return site + "." + daemon + "." + epochID }

// SetupBucket creates or updates the announcement bucket. History 1: an
// epoch's key is announced once and never changes.
func SetupBucket(ctx context.Context, js jetstream.JetStream, storage jetstream.StorageType, replicas int) (jetstream.KeyValue, error) {
	if replicas <= 0 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "printerd: daemons' epoch public keys, signed by each daemon",
		History:     1,
		Storage:     storage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("epoch: setup bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// Publish stores an announcement under its KVKey.
func Publish(ctx context.Context, kv jetstream.KeyValue, a *Announcement) error {
	if err := checkToken("site", a.Site); err != nil {
		return err
	}
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("epoch: publish: %w", err)
	}
	if _, err := kv.Put(ctx, KVKey(a.Site, a.Daemon, a.Epoch), b); err != nil {
		return fmt.Errorf("epoch: publish %s: %w", KVKey(a.Site, a.Daemon, a.Epoch), err)
	}
	return nil
}

// Withdraw removes an announcement (after its key is destroyed), so
// enrollment systems stop seeing it.
func Withdraw(ctx context.Context, kv jetstream.KeyValue, site, daemon, epochID string) error {
	if err := kv.Purge(ctx, KVKey(site, daemon, epochID)); err != nil {
		return fmt.Errorf("epoch: withdraw %s: %w", KVKey(site, daemon, epochID), err)
	}
	return nil
}

// Entry is one stored announcement as fetched: parsed, not verified. Err
// is set instead of A when the stored value is not an announcement.
type Entry struct {
	Key string // the KV key
	A   *Announcement
	Err error
}

// Fetch returns every announcement stored for a site, in key order.
func Fetch(ctx context.Context, kv jetstream.KeyValue, site string) ([]Entry, error) {
	if err := checkToken("site", site); err != nil {
		return nil, err
	}
	w, err := kv.WatchFiltered(ctx, []string{site + ".>"}, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("epoch: fetch %s: %w", site, err)
	}
	defer w.Stop()
	var out []Entry
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("epoch: fetch %s: %w", site, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("epoch: fetch %s: watcher stopped", site)
			}
			if e == nil { // the initial values are all delivered
				sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
				return out, nil
			}
			a, err := ParseAnnouncement(e.Value())
			out = append(out, Entry{Key: e.Key(), A: a, Err: err})
		}
	}
}

// Pick is what Recipients found.
type Pick struct {
	// Recipients: the current key of each pinned daemon that has one, in
	// the order of the pinned list.
	Recipients []seal.Recipient
	// Missing: pinned daemons (key ids) with no current verified key. They
	// cannot print the jobs sealed now.
	Missing []string
	// Refused: entries of the site that were not used, with the reason
	// (malformed, unpinned daemon, bad signature, stored under the wrong
	// key); no secret is involved, so they can be logged.
	Refused []Entry
}

// ErrNoRecipients: no pinned daemon of the site has a current key.
var ErrNoRecipients = errors.New("epoch: no pinned daemon of the site has a current epoch key: start a daemon, or check the pinned keys")

// Recipients fetches a site's announcements, verifies them against the
// pinned daemon keys, and picks each daemon's key for now: the verified
// key whose epoch holds now (the latest-starting one if several do). This
// is what an enrollment system (printerd submit) seals a job to. It returns
// ErrNoRecipients, with the Pick, when no daemon has one.
func Recipients(ctx context.Context, kv jetstream.KeyValue, site string, pinned []keyfile.Public, now time.Time) (*Pick, error) {
	entries, err := Fetch(ctx, kv, site)
	if err != nil {
		return nil, err
	}
	best := map[string]Key{}
	p := &Pick{}
	for _, e := range entries {
		if e.Err != nil {
			p.Refused = append(p.Refused, e)
			continue
		}
		k, err := Verify(e.A, site, pinned)
		if err == nil && e.Key != KVKey(e.A.Site, e.A.Daemon, e.A.Epoch) {
			err = malformed("key", "must be stored under <site>.<daemon>.<epoch>")
		}
		if err != nil {
			p.Refused = append(p.Refused, Entry{Key: e.Key, A: e.A, Err: err})
			continue
		}
		if now.Before(k.Start) || !now.Before(k.End) {
			continue
		}
		if old, ok := best[e.A.Daemon]; !ok || k.Start.After(old.Start) {
			best[e.A.Daemon] = k
		}
	}
	for _, d := range pinned {
		if k, ok := best[d.KID]; ok {
			p.Recipients = append(p.Recipients, k.Recipient())
		} else {
			p.Missing = append(p.Missing, d.KID)
		}
	}
	if len(p.Recipients) == 0 {
		return p, ErrNoRecipients
	}
	return p, nil
}
