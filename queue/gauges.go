package queue

import (
	"context"
	"time"
)

// watchGauges keeps the held-jobs and queue-age gauges of the pools
// current, from the clerk's listing (which reads no job body), every
// status interval until the daemon drains.
func (d *Daemon) watchGauges(pools []string) {
	for _, p := range pools {
		d.metrics.HeldJobs.WithLabelValues(p).Set(0)
		d.metrics.QueueAge.WithLabelValues(p).Set(0)
	}
	d.everyStatusInterval(10*time.Second, func(ctx context.Context) { d.updateGauges(ctx, pools) })
}

// everyStatusInterval runs f now and then every status interval, each
// time with a context of at most timeout, until the daemon drains or
// closes.
func (d *Daemon) everyStatusInterval(timeout time.Duration, f func(ctx context.Context)) {
	t := time.NewTicker(d.cfg.StatusInterval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(d.runCtx, timeout)
		f(ctx)
		cancel()
		select {
		case <-t.C:
		case <-d.draining:
			return
		case <-d.runCtx.Done():
			return
		}
	}
}

// updateGauges sets the gauges once; a store that does not answer leaves
// them as they were.
func (d *Daemon) updateGauges(ctx context.Context, pools []string) {
	l, err := d.clerk.List(ctx)
	if err != nil {
		return
	}
	now := d.now()
	held, oldest := map[string]int{}, map[string]time.Time{}
	for _, h := range l.Held {
		held[h.Pool]++
	}
	for _, j := range l.Jobs {
		if j.State == Queued && (oldest[j.Pool].IsZero() || j.Since.Before(oldest[j.Pool])) {
			oldest[j.Pool] = j.Since
		}
	}
	for _, p := range pools {
		d.metrics.HeldJobs.WithLabelValues(p).Set(float64(held[p]))
		age := 0.0
		if o := oldest[p]; !o.IsZero() {
			age = max(0, now.Sub(o).Seconds())
		}
		d.metrics.QueueAge.WithLabelValues(p).Set(age)
	}
}
