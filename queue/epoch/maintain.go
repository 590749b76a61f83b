package epoch

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Retention is how long jobs may wait in the streams, which decides when
// an epoch key may be destroyed.
type Retention struct {
	MaxJobAge     time.Duration // CARD_JOBS maximum age
	HeldRetention time.Duration // CARD_HELD retention
}

// Maintain is one round of a daemon's key upkeep, to run at start and then
// periodically (hourly is plenty for day-long epochs): make the current
// key (and the next, when it is due), destroy the keys whose retention has
// passed and withdraw their announcements (and those of keys destroyed by
// hand), and (re)publish the
// announcement of every held key that has not ended. It returns the keys
// destroyed, for the audit log.
func Maintain(ctx context.Context, kv jetstream.KeyValue, site string, sg *Signer, st *Store, now time.Time, r Retention) ([]Key, error) {
	if _, err := st.Current(now); err != nil {
		return nil, err
	}
	gone, err := st.DestroyExpired(now, r.MaxJobAge, r.HeldRetention)
	if err != nil {
		return gone, err
	}
	for _, k := range gone {
		if err := Withdraw(ctx, kv, site, sg.KID, k.Epoch); err != nil {
			return gone, err
		}
	}
	keys, err := st.Keys()
	if err != nil {
		return gone, err
	}
	// Withdraw this daemon's announcements of keys destroyed by hand
	// (printerd keys epoch destroy), so enrollment stops sealing to them.
	held := map[string]bool{}
	for _, k := range keys {
		held[k.ID] = true
	}
	entries, err := Fetch(ctx, kv, site)
	if err != nil {
		return gone, fmt.Errorf("epoch: maintain: %w", err)
	}
	for _, e := range entries {
		if e.A != nil && e.A.Daemon == sg.KID && !held[e.A.KID] && e.Key == KVKey(site, sg.KID, e.A.Epoch) {
			if err := Withdraw(ctx, kv, site, sg.KID, e.A.Epoch); err != nil {
				return gone, err
			}
		}
	}
	for _, k := range keys {
		if !now.Before(k.End) {
			continue // kept to open old jobs, no longer for sealing new ones
		}
		a, err := Announce(site, sg, k)
		if err != nil {
			return gone, err
		}
		if err := Publish(ctx, kv, a); err != nil {
			return gone, fmt.Errorf("epoch: maintain: %w", err)
		}
	}
	return gone, nil
}
