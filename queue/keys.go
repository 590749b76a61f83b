package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/cityid/printerd/queue/epoch"
)

// AuditKeyDestroyed is the audit action of an epoch key destroyed after
// its retention: every job sealed only to it is unreadable from then on.
const AuditKeyDestroyed = "key-destroyed"

// retention is what decides when an epoch key may be destroyed: CARD_JOBS'
// maximum age and CARD_HELD's retention as they are now.
func (d *Daemon) retention() epoch.Retention {
	d.setupMu.Lock()
	defer d.setupMu.Unlock()
	sc := d.cfg.Setup.withDefaults()
	return epoch.Retention{MaxJobAge: sc.JobsMaxAge, HeldRetention: sc.HeldRetention}
}

// upkeepKeys is one round of epoch key upkeep (epoch.Maintain): the
// current and next keys made and announced, the expired ones destroyed,
// their announcements withdrawn and their destruction audited.
func (d *Daemon) upkeepKeys(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	gone, err := epoch.Maintain(ctx, d.st.DaemonKeys, d.cfg.Site, d.cfg.Signer, d.cfg.Keys, d.now(), d.retention())
	for _, k := range gone {
		d.log.Info("queue: epoch key destroyed after its retention", "epoch", k.Epoch, "kid", k.ID)
		if _, aerr := d.clerk.audit.Append(ctx, AuditRecord{Action: AuditKeyDestroyed,
			Reason: "epoch " + k.Epoch + " key " + k.ID, At: d.now()}); aerr != nil {
			d.log.Error("queue: audit record lost", "action", AuditKeyDestroyed, "err", aerr)
		}
	}
	if err != nil {
		return fmt.Errorf("queue: epoch keys: %w", err)
	}
	return nil
}

// keyUpkeepLoop runs upkeepKeys every KeyUpkeep until the daemon stops.
func (d *Daemon) keyUpkeepLoop() {
	t := time.NewTicker(d.cfg.KeyUpkeep)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := d.upkeepKeys(d.runCtx); err != nil {
				d.log.Error("queue: epoch key upkeep failed; retrying at the next round", "err", err)
			}
		case <-d.draining:
			return
		case <-d.runCtx.Done():
			return
		}
	}
}

// UpkeepKeys runs one round of epoch key upkeep now (tests, and a clock
// that jumps); the daemon also runs it at start and every KeyUpkeep. It
// needs Config.Signer.
func (d *Daemon) UpkeepKeys(ctx context.Context) error {
	if d.cfg.Signer == nil {
		return fmt.Errorf("queue: epoch keys: no Signer configured")
	}
	return d.upkeepKeys(ctx)
}
