package debtest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cityid/printerd/internal/qemuvm"
)

// promtool returns Debian's promtool: from PATH, else unpacked from the
// prometheus package (apt-get download, cached) so that the host does not
// get a Prometheus server installed and started for a syntax check.
func promtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	cache := cacheDir(t)
	dir := filepath.Join(cache, "promtool")
	bin := filepath.Join(dir, "usr/bin/promtool")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	os.MkdirAll(dir, 0o755)
	debs, _ := filepath.Glob(filepath.Join(dir, "prometheus_*.deb"))
	if len(debs) == 0 {
		cmd := exec.Command("apt-get", "download", "prometheus")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("debtest: apt-get download prometheus (for promtool) failed: %v\n%s\nrun scripts/deps.sh test (apt package lists), or install prometheus", err, out)
		}
		debs, _ = filepath.Glob(filepath.Join(dir, "prometheus_*.deb"))
	}
	if len(debs) == 0 {
		t.Fatal("debtest: apt-get download prometheus left no .deb")
	}
	if out, err := exec.Command("sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" ./usr/bin/promtool`, "sh", debs[0], dir).CombinedOutput(); err != nil {
		t.Fatalf("debtest: unpacking promtool from %s: %v\n%s", debs[0], err, out)
	}
	return bin
}

func cacheDir(t *testing.T) string {
	t.Helper()
	d, err := qemuvm.CacheDir("PRINTERD_DEB_CACHE", "printerd-deb")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAlertRules runs promtool check rules on the shipped alert rules and
// promtool test rules on their unit tests (each alert fires on the series
// that should fire it, and not before its "for").
func TestAlertRules(t *testing.T) {
	tool := promtool(t)
	dir := filepath.Join(repoRoot(t), "packaging/doc")
	for _, args := range [][]string{{"check", "rules", "printerd-alerts.yml"}, {"test", "rules", "printerd-alerts.test.yml"}} {
		cmd := exec.Command(tool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("debtest: promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			continue
		}
		t.Logf("promtool %s: %s", strings.Join(args, " "), strings.Join(strings.Fields(string(out)), " "))
	}
	// Every alert named in the brief is there.
	rules, _ := os.ReadFile(filepath.Join(dir, "printerd-alerts.yml"))
	for _, a := range []string{"PrinterdPrinterNotReady", "PrinterdHeldJobsRising", "PrinterdAuditChainBroken", "PrinterdRibbonLow", "PrinterdQueueAge"} {
		if !strings.Contains(string(rules), "alert: "+a+"\n") {
			t.Errorf("debtest: alert %s missing from printerd-alerts.yml", a)
		}
	}
}

// plannedMetrics are used by the alert rules and the dashboard before
// printerd exports them (listed in the rules file's comments).
var plannedMetrics = map[string]bool{}

// exportedMetrics reads the metric names queue/metrics.go and
// daemon/health.go (build info) register.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	for _, f := range []string{"queue/metrics.go", "daemon/health.go"} {
		src, err := os.ReadFile(filepath.Join(repoRoot(t), f))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range regexp.MustCompile(`Name: "(printerd_\w+)"`).FindAllSubmatch(src, -1) {
			m[string(s[1])] = true
		}
	}
	if len(m) == 0 {
		t.Fatal("debtest: no metric names found in queue/metrics.go")
	}
	return m
}

// metricRefs returns the printerd_* metric names an expression uses, with
// histogram suffixes taken off.
func metricRefs(expr string) []string {
	var out []string
	for _, n := range regexp.MustCompile(`printerd_[a-z_]+`).FindAllString(expr, -1) {
		out = append(out, strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count"))
	}
	return out
}

// TestMetricNames checks that the rules and the dashboard use only metrics
// printerd exports or the planned ones, so a renamed metric fails here.
func TestMetricNames(t *testing.T) {
	known := exportedMetrics(t)
	for _, f := range []string{"printerd-alerts.yml", "printerd-dashboard.json"} {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), "packaging/doc", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range metricRefs(string(b)) {
			if !known[n] && !plannedMetrics[n] {
				t.Errorf("debtest: %s uses %s, which queue/metrics.go does not export and is not a planned metric", f, n)
			}
		}
	}
	for n := range plannedMetrics {
		if known[n] {
			t.Logf("debtest: %s is exported now: take it off plannedMetrics and the rules' \"planned metric\" comments", n)
		}
	}
}

// TestDashboard checks the Grafana dashboard is JSON Grafana imports: a
// title, a Prometheus data source input, panels with unique ids, each with
// at least one PromQL expression.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "packaging/doc/printerd-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Inputs []struct {
			Name, PluginID string
		} `json:"__inputs"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("debtest: printerd-dashboard.json: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Inputs) != 1 || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("debtest: dashboard title %q uid %q inputs %+v: want a title, a uid and one Prometheus input", d.Title, d.UID, d.Inputs)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("debtest: panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 || p.Targets[0].Expr == "" {
			t.Errorf("debtest: panel %q has no query", p.Title)
		}
	}
	if len(d.Panels) < 8 {
		t.Errorf("debtest: %d panels, want at least 8", len(d.Panels))
	}
}
