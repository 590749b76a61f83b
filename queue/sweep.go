package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// EraseExpiringHeld overwrites (SecureDeleteMsg) the CARD_HELD copies of a
// site that are within margin of the stream's MaxAge. The server's own
// expiry only unlinks a message, leaving the person's data in the block
// files; erasing first keeps DESIGN's promise that a held body is gone
// after the retention. It returns how many copies it erased.
func (s *Stores) EraseExpiringHeld(ctx context.Context, site string, margin time.Duration, now time.Time) (int, error) {
	info, err := s.Held.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("queue: erase expiring held copies: %w", err)
	}
	if info.Config.MaxAge <= 0 || info.State.Msgs == 0 {
		return 0, nil
	}
	cutoff := now.Add(-(info.Config.MaxAge - margin))
	n := 0
	for seq := info.State.FirstSeq; ; {
		// The next copy of this site at or after seq; messages are in time order.
		m, err := s.Held.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(HeldSubject(site, "*")))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("queue: erase expiring held copies: %w", err)
		}
		if m.Time.After(cutoff) {
			return n, nil
		}
		if err := s.Held.SecureDeleteMsg(ctx, m.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return n, fmt.Errorf("queue: erase expiring held copy %d: %w", m.Sequence, err)
		}
		n++
		seq = m.Sequence + 1
	}
}

// sweepInterval is how often a daemon erases expiring held copies: a tenth
// of the retention, between 100 ms and a minute. Copies are erased two
// intervals before the server would expire them.
func sweepInterval(retention time.Duration) time.Duration {
	return min(max(retention/10, 100*time.Millisecond), time.Minute)
}

// sweepHeld runs EraseExpiringHeld until the daemon drains or stops. It reads the
// retention from the stream each time, so a reload that changes it applies.
func (d *Daemon) sweepHeld() {
	interval := sweepInterval(d.cfg.Setup.HeldRetention)
	for {
		ctx, cancel := context.WithTimeout(d.runCtx, 30*time.Second)
		if info, err := d.st.Held.Info(ctx); err == nil {
			interval = sweepInterval(info.Config.MaxAge)
		}
		if n, err := d.st.EraseExpiringHeld(ctx, d.cfg.Site, 2*interval, d.now()); err != nil {
			d.log.Warn("queue: could not erase expiring held copies", "err", err)
		} else if n > 0 {
			d.log.Info("queue: erased held copies at the end of their retention", "count", n)
		}
		cancel()
		select {
		case <-time.After(interval):
		case <-d.draining:
			return
		case <-d.runCtx.Done():
			return
		}
	}
}
