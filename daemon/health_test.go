package daemon

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/internal/buildinfo"
)

// get fetches a path from the daemon's HTTP endpoint.
func get(t *testing.T, d *Daemon, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + d.HTTPAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHealthAndReadiness: /healthz answers ok while the process lives,
// even with every printer paused; /readyz names each check and answers
// 503 while a pool has no ready printer; the metrics carry build info and
// the ribbon, held and queue-age gauges.
func TestHealthAndReadiness(t *testing.T) {
	f := newFixture(t)
	o := f.options()
	o.Config.HTTP = "127.0.0.1:0"
	d := start(t, o, nil)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("/readyz ok", func() bool { c, _ := get(t, d, "/readyz"); return c == http.StatusOK })
	_, body := get(t, d, "/readyz")
	for _, want := range []string{"nats: ok", "audit: ok", "pool default: ok"} {
		if !strings.Contains(body, want) {
			t.Errorf("/readyz: %q; want %q", body, want)
		}
	}
	if err := d.Queue().Pause("p0"); err != nil {
		t.Fatal(err)
	}
	waitFor("/readyz 503 with the printer paused", func() bool { c, _ := get(t, d, "/readyz"); return c == http.StatusServiceUnavailable })
	_, body = get(t, d, "/readyz")
	if !strings.Contains(body, "pool default: no ready printer (p0: paused)") {
		t.Errorf("/readyz with p0 paused: %q", body)
	}
	if code, body := get(t, d, "/healthz"); code != http.StatusOK || !strings.Contains(body, "ok") {
		t.Errorf("/healthz with every printer paused: %d %q; want 200 ok (liveness)", code, body)
	}
	_, metrics := get(t, d, "/metrics")
	bi := buildinfo.Get()
	for _, want := range []string{
		`printerd_build_info{commit="` + bi.Commit + `",goversion="` + bi.GoVersion + `",version="` + bi.Version + `"} 1`,
		`printerd_ribbon_remaining_cards{printer="p0"} 300`,
		`printerd_held_jobs{pool="default"} 0`,
		`printerd_queue_oldest_job_age_seconds{pool="default"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	_ = context.Background
}

// TestReadinessAuditBroken: a broken audit chain makes /readyz answer 503
// naming the audit check.
func TestReadinessAuditBroken(t *testing.T) {
	f := newFixture(t)
	o := f.options()
	o.Config.HTTP = "127.0.0.1:0"
	o.AuditOK = func() error { return errors.New("chain forked at seq 7") }
	d := start(t, o, nil)
	code, body := get(t, d, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "audit: chain forked at seq 7") {
		t.Errorf("/readyz with a broken audit chain: %d %q", code, body)
	}
}
