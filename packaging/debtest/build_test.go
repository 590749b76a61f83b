package debtest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The two versions the tests build: the second is the "newer version" an
// upgrade installs.
const (
	version1 = "0.1.0+debtest1"
	version2 = "0.1.0+debtest2"
)

var (
	debMu    sync.Mutex
	debCache = map[string]string{}
	debDir   string
)

// repoRoot is the repository (two levels up from packaging/debtest).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// buildDeb runs scripts/package.sh with VERSION=version into dist and
// returns the .deb's path.
func buildDeb(t *testing.T, version, dist string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("debtest: git not found (scripts/package.sh dates the package from the commit): apt-get install git")
	}
	start := time.Now()
	cmd := exec.Command("bash", "scripts/package.sh")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "VERSION="+version, "DIST="+dist)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("debtest: scripts/package.sh: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "printerd_"+version+"_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("debtest: scripts/package.sh made %v in %s, want one printerd_%s_<arch>.deb\n%s", debs, dist, version, out)
	}
	t.Logf("debtest: built %s in %v: %s", filepath.Base(debs[0]), time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(out)))
	return debs[0]
}

// deb returns the package of version, built once per test binary.
func deb(t *testing.T, version string) string {
	t.Helper()
	debMu.Lock()
	defer debMu.Unlock()
	if p := debCache[version]; p != "" {
		return p
	}
	if debDir == "" {
		d, err := os.MkdirTemp("", "printerd-debtest-")
		if err != nil {
			t.Fatal(err)
		}
		debDir = d
	}
	p := buildDeb(t, version, filepath.Join(debDir, "dist"))
	debCache[version] = p
	return p
}

func TestMain(m *testing.M) {
	code := m.Run()
	if debDir != "" {
		os.RemoveAll(debDir)
	}
	os.Exit(code)
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestReproducible builds the same version twice into different
// directories: the two packages must be the same bytes.
func TestReproducible(t *testing.T) {
	a := deb(t, version1)
	b := buildDeb(t, version1, filepath.Join(t.TempDir(), "dist"))
	ha, hb := sha(t, a), sha(t, b)
	if ha != hb {
		t.Errorf("debtest: two builds of %s differ: %s vs %s (compare with: diffoscope %s %s)", version1, ha, hb, a, b)
	}
	st, _ := os.Stat(a)
	t.Logf("debtest: %s: %d bytes, sha256 %s (both builds)", filepath.Base(a), st.Size(), ha)
}

// entry is one line of dpkg-deb --contents.
type entry struct{ mode, owner, path, link string }

func contents(t *testing.T, debPath string) map[string]entry {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "--contents", debPath).Output()
	if err != nil {
		t.Fatalf("debtest: dpkg-deb --contents: %v (install dpkg)", err)
	}
	m := map[string]entry{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		e := entry{mode: f[0], owner: f[1], path: strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")}
		if len(f) >= 8 && f[6] == "->" {
			e.link = f[7]
		}
		m[e.path] = e
	}
	return m
}

// TestContents checks the package's files, owners and modes, its control
// fields and conffiles, that every command has a man page, and that the
// binary says the version and commit it was built with.
func TestContents(t *testing.T) {
	p := deb(t, version1)
	files := contents(t, p)
	want := []entry{
		{"-rwxr-xr-x", "root/root", "/usr/bin/printerd", ""},
		{"-rw-r--r--", "root/root", "/lib/systemd/system/printerd.service", ""},
		{"-rw-r--r--", "root/root", "/lib/udev/rules.d/60-printerd.rules", ""},
		{"-rw-r--r--", "root/root", "/etc/printerd/printerd.json", ""},
		{"-rw-r--r--", "root/root", "/etc/printerd/README", ""},
		{"drwx------", "root/root", "/etc/printerd/keys", ""},
		{"drwxr-xr-x", "root/root", "/etc/printerd/approvers", ""},
		{"-rw-r--r--", "root/root", "/usr/share/man/man8/printerd.8.gz", ""},
		{"-rw-r--r--", "root/root", "/usr/share/bash-completion/completions/printerd", ""},
		{"-rw-r--r--", "root/root", "/usr/share/zsh/vendor-completions/_printerd", ""},
		{"-rw-r--r--", "root/root", "/usr/share/doc/printerd/README.Debian", ""},
		{"-rw-r--r--", "root/root", "/usr/share/doc/printerd/copyright", ""},
		{"-rw-r--r--", "root/root", "/usr/share/doc/printerd/printerd-alerts.yml", ""},
		{"-rw-r--r--", "root/root", "/usr/share/doc/printerd/printerd-dashboard.json", ""},
	}
	for _, w := range want {
		got, ok := files[w.path]
		if !ok {
			t.Errorf("debtest: %s is not in the package", w.path)
			continue
		}
		if got.mode != w.mode || got.owner != w.owner {
			t.Errorf("debtest: %s is %s %s, want %s %s", w.path, got.mode, got.owner, w.mode, w.owner)
		}
	}
	for path, e := range files {
		if e.owner != "root/root" {
			t.Errorf("debtest: %s is owned by %s, want root/root", path, e.owner)
		}
		if strings.Contains(e.mode[1:], "w") && strings.ContainsAny(e.mode[5:], "w") {
			t.Errorf("debtest: %s is writable by group or others (%s)", path, e.mode)
		}
	}

	// Control fields, conffiles and maintainer scripts.
	info, err := exec.Command("dpkg-deb", "--info", p).CombinedOutput()
	if err != nil {
		t.Fatalf("debtest: dpkg-deb --info: %v\n%s", err, info)
	}
	for _, w := range []string{"Package: printerd", "Version: " + version1, "Depends: libc6", "libusb-1.0-0", "libpcsclite1", "systemd (>= 252)", "postinst", "prerm", "postrm"} {
		if !strings.Contains(string(info), w) {
			t.Errorf("debtest: dpkg-deb --info lacks %q:\n%s", w, info)
		}
	}
	ctl := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "--control", p, ctl).CombinedOutput(); err != nil {
		t.Fatalf("debtest: dpkg-deb --control: %v\n%s", err, out)
	}
	conf, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if !strings.Contains(string(conf), "/etc/printerd/printerd.json") {
		t.Errorf("debtest: /etc/printerd/printerd.json is not a conffile (an upgrade would overwrite the office's config): conffiles %q", conf)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		if out, err := exec.Command("sh", "-n", filepath.Join(ctl, s)).CombinedOutput(); err != nil {
			t.Errorf("debtest: %s: sh -n: %v\n%s", s, err, out)
		}
	}

	// Unpack: the binary's version, a man page per command.
	root := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "--extract", p, root).CombinedOutput(); err != nil {
		t.Fatalf("debtest: dpkg-deb --extract: %v\n%s", err, out)
	}
	bin := filepath.Join(root, "usr/bin/printerd")
	ver, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("debtest: printerd version: %v", err)
	}
	commit, _ := exec.Command("git", "-C", repoRoot(t), "rev-parse", "HEAD").Output()
	if !regexp.MustCompile(`^printerd ` + regexp.QuoteMeta(version1) + ` \(commit ` + strings.TrimSpace(string(commit)) + `(-dirty)?, go1\.\d+`).Match(ver) {
		t.Errorf("debtest: printerd version says %q, want version %s, commit %s and the Go version", ver, version1, strings.TrimSpace(string(commit)))
	}
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	var cmds []string
	inCmds := false
	for _, l := range strings.Split(string(help), "\n") {
		switch {
		case l == "commands:":
			inCmds = true
		case inCmds && strings.HasPrefix(l, "  "):
			cmds = append(cmds, strings.Fields(l)[0])
		case inCmds:
			inCmds = false
		}
	}
	if len(cmds) < 10 {
		t.Fatalf("debtest: printerd --help lists %d commands: %v", len(cmds), cmds)
	}
	sort.Strings(cmds)
	for _, c := range cmds {
		if _, ok := files["/usr/share/man/man8/printerd-"+c+".8.gz"]; !ok {
			t.Errorf("debtest: no man page printerd-%s(8) for command %s", c, c)
		}
	}
	st, _ := os.Stat(p)
	t.Logf("debtest: %s: %d bytes; %d commands with man pages: %v", filepath.Base(p), st.Size(), len(cmds), cmds)
}
