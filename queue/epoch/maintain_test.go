package epoch

import (
	"errors"
	"testing"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/internal/natstest"
	"github.com/cityid/printerd/queue/seal"
)

// TestMaintainOverDays runs a daemon's hourly key upkeep over six days
// with an enrollment system sealing a job every few hours: every job opens
// until its key's retention ends and is refused with ErrKeyGone after, the
// bucket holds only announcements of keys still held and not ended, and
// enrollment always finds a current key.
func TestMaintainOverDays(t *testing.T) {
	kv := setupKV(t)
	ctx := natstest.Context(t, 60*time.Second)
	d := newDaemon(t, seal.KEMX25519)
	r := Retention{MaxJobAge: 24 * time.Hour, HeldRetention: 48 * time.Hour}
	pinned := []keyfile.Public{d.pub}
	type sealed struct {
		s   *seal.Sealed
		key Key
	}
	var jobs []sealed
	start := day("2026-11-30T05:30:00Z")
	destroyed := 0
	for now := start; now.Before(start.Add(6 * 24 * time.Hour)); now = now.Add(time.Hour) {
		gone, err := Maintain(ctx, kv, "town-hall", d.sg, d.st, now, r)
		if err != nil {
			t.Fatalf("%v: %v", now, err)
		}
		for _, k := range gone {
			if due := k.End.Add(r.MaxJobAge + r.HeldRetention); now.Before(due) || now.Sub(due) >= time.Hour {
				t.Fatalf("%v: key of %s destroyed, due %v", now, k.Epoch, due)
			}
		}
		destroyed += len(gone)
		if now.Hour()%5 == 0 {
			pick, err := Recipients(ctx, kv, "town-hall", pinned, now)
			if err != nil || len(pick.Refused) != 0 {
				t.Fatalf("%v: recipients: %v, refused %v", now, err, pick.Refused)
			}
			cur, _ := d.st.Current(now)
			if pick.Recipients[0].KeyID != cur.ID {
				t.Fatalf("%v: enrollment picked %s, current is %s", now, pick.Recipients[0].KeyID, cur.ID)
			}
			jobs = append(jobs, sealed{sealTo(t, cur), cur})
		}
		for _, j := range jobs {
			_, err := seal.Open(j.s, clearF, d.st)
			due := j.key.End.Add(r.MaxJobAge + r.HeldRetention)
			switch {
			case now.Before(due) && err != nil:
				t.Fatalf("%v: job sealed to %s refused before its key was due: %v", now, j.key.Epoch, err)
			case !now.Before(due.Add(time.Hour)) && !errors.Is(err, seal.ErrKeyGone):
				t.Fatalf("%v: job sealed to %s: %v after its key was due, want ErrKeyGone", now, j.key.Epoch, err)
			}
		}
		ents, err := Fetch(ctx, kv, "town-hall")
		if err != nil {
			t.Fatal(err)
		}
		held := map[string]bool{}
		for _, k := range mustKeys(t, d.st) {
			held[k.Epoch] = true
		}
		for _, e := range ents {
			if e.Err != nil || !held[e.A.Epoch] {
				t.Fatalf("%v: bucket holds %s, not a key the daemon holds (%v)", now, e.Key, e.Err)
			}
		}
	}
	if destroyed < 2 {
		t.Fatalf("%d keys destroyed in six days, want at least 2", destroyed)
	}
}
