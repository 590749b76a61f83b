package daemon

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityid/printerd/internal/buildinfo"
)

// check is one named readiness check: nil when it passes.
type check struct {
	name string
	run  func() error
}

// readiness returns the daemon's readiness checks, in the order /readyz
// reports them: NATS connected, the audit chain intact (Options.AuditOK,
// else queue.Daemon.AuditHealthy), and for each pool at least one printer ready and not paused.
func (d *Daemon) readiness() []check {
	cs := []check{{"nats", func() error {
		if d.nc == nil || !d.nc.IsConnected() {
			return fmt.Errorf("not connected")
		}
		return nil
	}}}
	audit := d.opts.AuditOK
	if audit == nil && d.q != nil {
		audit = d.q.AuditHealthy
	}
	if audit != nil {
		cs = append(cs, check{"audit", audit})
	}
	if d.q == nil {
		return cs
	}
	states := d.q.PrinterStates()
	var pools []string
	for _, s := range states {
		if !slices.Contains(pools, s.Pool) {
			pools = append(pools, s.Pool)
		}
	}
	slices.Sort(pools)
	for _, pool := range pools {
		cs = append(cs, check{"pool " + pool, func() error {
			var why []string
			for _, s := range states {
				if s.Pool != pool {
					continue
				}
				if s.Ready && !s.Paused {
					return nil
				}
				why = append(why, s.Printer+": "+notReady(s.Paused, s.Error, problems(s.Problems)))
			}
			return fmt.Errorf("no ready printer (%s)", strings.Join(why, "; "))
		}})
	}
	return cs
}

// problems names printer problem codes.
func problems[C fmt.Stringer](cs []C) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}

// notReady says in a word or two why a printer is not ready.
func notReady(paused bool, err string, probs []string) string {
	switch {
	case paused:
		return "paused"
	case len(probs) > 0:
		return strings.Join(probs, ",")
	case err != "":
		return "offline"
	}
	return "not ready"
}

// serveReadyz is /readyz: one line per check, "name: ok" or "name: why",
// status 200 when every check passes and 503 otherwise. /healthz is
// liveness only: it answers while the process serves HTTP.
func (d *Daemon) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	var b strings.Builder
	ok := true
	for _, c := range d.readiness() {
		if err := c.run(); err != nil {
			ok = false
			fmt.Fprintf(&b, "%s: %v\n", c.name, err)
		} else {
			fmt.Fprintf(&b, "%s: ok\n", c.name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	w.Write([]byte(b.String()))
}

// buildInfoGauge is printerd_build_info{version,commit,goversion} 1.
func buildInfoGauge() prometheus.Collector {
	bi := buildinfo.Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "printerd_build_info", Help: "Always 1; the labels say which printerd build runs.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "commit": bi.Commit, "goversion": bi.GoVersion},
	})
	g.Set(1)
	return g
}
