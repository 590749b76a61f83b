package debtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/internal/qemuvm"
)

// The Debian userland the guest runs: debootstrap's minbase with systemd,
// udev, kmod (modprobe, depmod), and printerd's dependencies libusb and
// procps (/bin/kill for ExecReload), and man-db (systemd-analyze verify
// checks the unit's Documentation= pages with man).
const (
	suite           = "bookworm"
	rootfsPackages  = "systemd,udev,kmod,libusb-1.0-0,procps,man-db"
	defaultMirror   = "http://deb.debian.org/debian"
	installHintDeb  = "run scripts/deps.sh test (it installs debootstrap and qemu-system-x86)"
	guestUSBModules = "usb-common usbcore usbip-core vhci-hcd usblp"
)

// guestChecks are the checks testdata/debvm.sh makes; each must PASS.
var guestChecks = []string{
	"install", "user", "keys-dir", "enabled", "not-started-unconfigured", "man-page", "systemd-analyze-verify",
	"ready", "watchdog-armed", "state-dir", "credential-not-readable-by-service", "job-printed", "watchdog-fed",
	"restarted-after-sigkill", "upgrade", "upgrade-restarted", "upgrade-keeps-state", "upgrade-keeps-jobs",
	"udev-usb-device", "udev-usblp", "usb-printer-usable-by-group", "usb-card-printed-by-service", "stopped-cleanly", "stop-logged",
	"remove-keeps-state", "purge-says-then-deletes",
}

// maxExposure is the highest "systemd-analyze security printerd" exposure
// the unit may have (README records the measured one).
const maxExposure = 2.0

// rootfs returns the debootstrapped Debian userland, cached in
// ~/.cache/printerd-deb/rootfs (PRINTERD_DEB_CACHE) and rebuilt only when
// the package list changes. The guest installs into its own copy (the
// initramfs), never into this tree.
func rootfs(t *testing.T) string {
	t.Helper()
	cache := cacheDir(t)
	dir := filepath.Join(cache, "rootfs")
	stampFile := filepath.Join(dir, ".printerd-rootfs")
	stamp := suite + " minbase " + rootfsPackages + "\n"
	if b, err := os.ReadFile(stampFile); err == nil && string(b) == stamp {
		return dir
	}
	if os.Geteuid() != 0 {
		t.Fatalf("debtest: building the Debian userland (debootstrap) needs root; run as root or put a tree in %s", dir)
	}
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		t.Fatalf("debtest: debootstrap not found: %s", installHintDeb)
	}
	mirror := os.Getenv("PRINTERD_DEB_MIRROR")
	if mirror == "" {
		mirror = defaultMirror
	}
	part := dir + ".part"
	for _, p := range []string{part, dir} {
		exec.Command("umount", "-l", filepath.Join(p, "proc")).Run() // left by an interrupted run
		exec.Command("umount", "-l", filepath.Join(p, "sys")).Run()
		os.RemoveAll(p)
	}
	debs := filepath.Join(cache, "debs")
	os.MkdirAll(debs, 0o755)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, debootstrap, "--variant=minbase", "--include="+rootfsPackages, "--cache-dir="+debs, suite, part, mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debtest: debootstrap %s from %s: %v\n%s", suite, mirror, err, qemuvm.Tail(string(out), 30))
	}
	// What the guest does not need: documentation, locales, apt's lists.
	for _, g := range []string{"usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*", "var/cache/apt/*.bin", "var/lib/apt/lists/*"} {
		ms, _ := filepath.Glob(filepath.Join(part, g))
		for _, m := range ms {
			os.RemoveAll(m)
		}
	}
	if err := os.WriteFile(filepath.Join(part, ".printerd-rootfs"), []byte(stamp), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(part, dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("debtest: debootstrap %s (%s) took %v", suite, rootfsPackages, time.Since(start).Round(time.Second))
	return dir
}

const guestUnit = `[Unit]
Description=printerd package test (packaging/debtest/testdata/debvm.sh)
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/root/debvm.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
`

// buildGuest writes the initramfs: the Debian userland, the kernel's USB
// modules, both packages, the test script and its unit.
func buildGuest(t *testing.T, path, rfs string, k *qemuvm.Kernel, deb1, deb2 string) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var size countWriter
	c := qemuvm.NewCpio(&multiWriter{f, &size})
	if err := c.Tree(rfs, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Tree(filepath.Join(k.Dir, "lib/modules"), "usr/lib/modules"); err != nil {
		t.Fatal(err)
	}
	c.CharDev("dev/console", 5, 1)
	root := repoRoot(t)
	for name, src := range map[string]string{
		"root/libpcsclite1.deb": pcscliteDeb(t),
		"root/printerd_1.deb":   deb1,
		"root/printerd_2.deb":   deb2,
		"root/job.json":         filepath.Join(root, "testdata/jobs/issue-polish.json"),
		"root/job2.json":        filepath.Join(root, "testdata/jobs/issue-icelandic.json"),
	} {
		if err := c.FileFrom(name, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.FileFrom("root/debvm.sh", "testdata/debvm.sh", 0o755); err != nil {
		t.Fatal(err)
	}
	c.File("etc/hostname", []byte("debvm\n"), 0o644)
	c.File("etc/systemd/system/debvm.service", []byte(guestUnit), 0o644)
	c.MkdirAll("etc/systemd/system/multi-user.target.wants")
	c.Symlink("etc/systemd/system/multi-user.target.wants/debvm.service", "/etc/systemd/system/debvm.service")
	// No login prompts on the console the test reads.
	c.Symlink("etc/systemd/system/serial-getty@ttyS0.service", "/dev/null")
	c.Symlink("etc/systemd/system/getty@tty1.service", "/dev/null")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return int64(size)
}

// pcscliteDeb returns Debian's libpcsclite1 package (printerd links
// pcsc-lite for its chip encoders), fetched once with apt-get download
// into the cache's debs directory. The guest installs it before printerd:
// it is not in the cached userland, whose package list stays as it was so
// that the shared cache is not rebuilt.
func pcscliteDeb(t *testing.T) string {
	t.Helper()
	debs := filepath.Join(cacheDir(t), "debs")
	if m, _ := filepath.Glob(filepath.Join(debs, "libpcsclite1_*_amd64.deb")); len(m) > 0 {
		return m[0]
	}
	os.MkdirAll(debs, 0o755)
	cmd := exec.Command("apt-get", "download", "libpcsclite1")
	cmd.Dir = debs
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debtest: apt-get download libpcsclite1: %v\n%s", err, out)
	}
	m, _ := filepath.Glob(filepath.Join(debs, "libpcsclite1_*_amd64.deb"))
	if len(m) == 0 {
		t.Fatal("debtest: apt-get download libpcsclite1 left no package")
	}
	return m[0]
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

type multiWriter struct {
	f *os.File
	n *countWriter
}

func (m *multiWriter) Write(p []byte) (int, error) {
	m.n.Write(p)
	return m.f.Write(p)
}

// TestDebInVM installs the package into a clean Debian userland booted
// with systemd under QEMU and checks what an administrator relies on
// (testdata/debvm.sh): the unit verifies clean, the service starts and
// reports READY, prints a card, is restarted after SIGKILL, keeps its state
// across an upgrade, stops cleanly, its udev rule gives the simulated USB
// printer (USB/IP) to group printerd, and removal keeps and purge deletes
// the state.
func TestDebInVM(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Fatalf("debtest: qemu-system-x86_64 not found: %s", installHintDeb)
	}
	start := time.Now()
	deb1, deb2 := deb(t, version1), deb(t, version2)
	t.Logf("debtest: packages ready in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	kcache, err := qemuvm.CacheDir("PRINTERD_USBVM_CACHE", "printerd-usbvm") // shared with drivers/usb/vmtest
	if err != nil {
		t.Fatal(err)
	}
	k, err := qemuvm.GetKernel(kcache)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Need(strings.Fields(guestUSBModules)...); err != nil {
		t.Fatal(err)
	}
	t.Logf("debtest: kernel %s ready in %v", k.Release, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	rfs := rootfs(t)
	t.Logf("debtest: Debian userland ready in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	initrd := filepath.Join(t.TempDir(), "initramfs.cpio")
	size := buildGuest(t, initrd, rfs, k, deb1, deb2)
	t.Logf("debtest: initramfs built in %v (%d MiB)", time.Since(start).Round(time.Millisecond), size>>20)

	start = time.Now()
	out, err := qemuvm.Run(context.Background(), qemuvm.Boot{
		Kernel: k.Vmlinuz, Initrd: initrd, MemMiB: 2048, Timeout: 12 * time.Minute,
		Append: "console=ttyS0 rdinit=/usr/lib/systemd/systemd systemd.show_status=0 loglevel=3 panic=-1 oops=panic",
	})
	t.Logf("debtest: VM run took %v", time.Since(start).Round(time.Millisecond))
	logFile := filepath.Join(cacheDir(t), "last-console.log")
	os.WriteFile(logFile, out, 0o644)
	t.Logf("debtest: guest console saved to %s", logFile)
	if errors.Is(err, qemuvm.ErrTimeout) {
		t.Fatalf("debtest: %v; console tail:\n%s", err, qemuvm.Tail(string(out), 80))
	}
	if err != nil {
		t.Fatal(err)
	}
	checkGuest(t, out)
}

var checkLine = regexp.MustCompile(`(?m)^DEBVM-CHECK (\S+) (PASS|FAIL) ?(.*?)\r?$`)

func checkGuest(t *testing.T, out []byte) {
	t.Helper()
	text := string(bytes.ReplaceAll(out, []byte("\r"), nil))
	got := map[string][2]string{}
	for _, m := range checkLine.FindAllStringSubmatch(text, -1) {
		got[m[1]] = [2]string{m[2], m[3]}
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "DEBVM-SECURITY|") || strings.HasPrefix(l, "DEBVM-EXPOSURE") || strings.HasPrefix(l, "DEBVM:") || strings.HasPrefix(l, "DEBVM-RESULT") {
			t.Log(l)
		}
	}
	failed := false
	for _, name := range guestChecks {
		r, ok := got[name]
		switch {
		case !ok:
			failed = true
			t.Errorf("debtest: guest check %s did not run", name)
		case r[0] != "PASS":
			failed = true
			t.Errorf("debtest: guest check %s failed: %s", name, r[1])
		default:
			t.Logf("PASS %s: %s", name, r[1])
		}
	}
	m := regexp.MustCompile(`(?m)^DEBVM-EXPOSURE (\d+\.\d+)`).FindStringSubmatch(text)
	if m == nil {
		failed = true
		t.Errorf("debtest: the guest reported no systemd-analyze security exposure")
	} else if e, _ := strconv.ParseFloat(m[1], 64); e > maxExposure {
		failed = true
		t.Errorf("debtest: systemd-analyze security printerd: exposure %s, want at most %.1f", m[1], maxExposure)
	}
	if !regexp.MustCompile(`(?m)^DEBVM-RESULT rc=0`).MatchString(text) {
		failed = true
		t.Errorf("debtest: the guest script did not finish with rc=0")
	}
	if failed {
		var rel []string
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "DEBVM") {
				rel = append(rel, l)
			}
		}
		t.Logf("debtest: guest lines:\n%s\nconsole tail:\n%s", strings.Join(rel, "\n"), qemuvm.Tail(text, 40))
	}
}
