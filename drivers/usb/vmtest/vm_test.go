package vmtest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// modules are the kernel modules the guest loads, in order (Debian's
// package has no modules.dep, so there is no modprobe).
var modules = []string{"usb-common", "usbcore", "usbip-core", "vhci-hcd", "usblp"}

// guestSubtests must all pass inside the guest; a missing one fails too.
var guestSubtests = []string{
	"usblp-bound-first", "list", "discovery-auto", "discovery-wrong-serial",
	"discovery-vid-pid-serial", "device-id-and-port-status", "print-ymcko-card",
	"status-and-counters", "read-timeout-recovers", "jam-over-usb", "silent-printer-soft-reset",
	"unplug-mid-card",
}

const installHint = "run scripts/deps.sh test (it installs qemu-system-x86, busybox-static and usbip with apt-get)"

// TestUSBVM boots Debian's kernel under QEMU (TCG) with the guest tests
// (guest_test.go) in its initramfs and checks that every one passed.
func TestUSBVM(t *testing.T) {
	if testing.Short() {
		t.Log("usbvm: -short given: the VM test still runs (it is the only test of the real USB stack)")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatalf("usbvm: qemu-system-x86_64 not found: %s", installHint)
	}
	busybox := staticBusybox(t)
	usbipTool, err := exec.LookPath("usbip")
	if err != nil {
		usbipTool = firstExisting("/usr/sbin/usbip", "/sbin/usbip")
	}
	if usbipTool == "" {
		t.Fatalf("usbvm: Debian's usbip tool not found (package usbip): %s", installHint)
	}
	cache := cacheDir(t)
	tmp := t.TempDir()

	start := time.Now()
	vmlinuz, mods := kernel(t, cache)
	t.Logf("usbvm: kernel ready in %v (%s)", time.Since(start).Round(time.Millisecond), filepath.Base(vmlinuz))

	start = time.Now()
	guest := filepath.Join(tmp, "guest.test")
	goBuild(t, "test", "-c", "-tags", "usbvmguest", "-o", guest, ".")
	printerd := filepath.Join(tmp, "printerd")
	goBuild(t, "build", "-o", printerd, "github.com/cityid/printerd/cmd/printerd")
	t.Logf("usbvm: guest test binary and printerd built in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	initrd := filepath.Join(tmp, "initramfs.gz")
	size := buildInitramfs(t, initrd, busybox, guest, printerd, usbipTool, mods)
	t.Logf("usbvm: initramfs built in %v (%d KiB)", time.Since(start).Round(time.Millisecond), size>>10)

	start = time.Now()
	out := boot(t, qemu, vmlinuz, initrd)
	boot := time.Since(start)
	t.Logf("usbvm: VM run took %v", boot.Round(time.Millisecond))
	if err := os.WriteFile(filepath.Join(cache, "last-console.log"), out, 0o644); err == nil {
		t.Logf("usbvm: guest console saved to %s", filepath.Join(cache, "last-console.log"))
	}
	checkGuest(t, out)
}

// checkGuest fails t unless the guest's console shows every subtest passed.
func checkGuest(t *testing.T, out []byte) {
	t.Helper()
	text := string(out)
	failed := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.Contains(line, "USBVM") || strings.Contains(line, "--- ") || strings.Contains(line, "usbvm:") ||
			strings.Contains(line, "guest_test.go") || strings.Contains(line, "panic") {
			t.Log("guest| " + line)
		}
	}
	m := regexp.MustCompile(`USBVM-RESULT rc=(\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Errorf("usbvm: the guest never reported a result; console tail:\n%s", tail(text, 60))
		return
	}
	if m[1] != "0" {
		failed = true
		t.Errorf("usbvm: the guest tests failed (rc=%s)", m[1])
	}
	for _, name := range guestSubtests {
		if !strings.Contains(text, "--- PASS: TestGuest/"+name+" ") {
			failed = true
			t.Errorf("usbvm: guest subtest %s did not pass", name)
		}
	}
	if m := regexp.MustCompile(`USBVM-MAGICARD-RESULT rc=(\d+)`).FindStringSubmatch(text); m == nil || m[1] != "0" ||
		!strings.Contains(text, "--- PASS: TestGuestMagicard ") {
		failed = true
		t.Errorf("usbvm: the simulated Magicard was not found and printed on over USB in the guest")
	}
	if m := regexp.MustCompile(`USBVM-TCP-RESULT rc=(\d+)`).FindStringSubmatch(text); m == nil || m[1] != "0" ||
		!strings.Contains(text, "--- PASS: TestGuestTCP ") {
		failed = true
		t.Errorf("usbvm: the usbip TCP mode (printerd sim --usbip, usbip attach) failed in the guest")
	}
	if !regexp.MustCompile(`USBVM-TCP diag\| usb +usb://0f49:1234\?serial=SIM`).MatchString(text) {
		failed = true
		t.Errorf("usbvm: printerd diag list in the guest did not list usb://0f49:1234?serial=SIM...")
	}
	if !strings.Contains(text, "(0f49:1234)") {
		failed = true
		t.Errorf("usbvm: usbip list -r 127.0.0.1 did not list the simulated printer 0f49:1234")
	}
	if failed {
		t.Logf("usbvm: console tail:\n%s", tail(text, 80))
	}
}

func firstExisting(paths ...string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// staticBusybox finds a statically linked busybox (Debian's busybox-static)
// with the applets /init needs.
func staticBusybox(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				static = false
			}
		}
		f.Close()
		if static {
			return p
		}
		t.Fatalf("usbvm: %s is dynamically linked; the guest needs busybox-static: %s", p, installHint)
	}
	t.Fatalf("usbvm: busybox not found: %s", installHint)
	return ""
}

// cacheDir is where the kernel package and its extracted files are kept
// between runs: $PRINTERD_USBVM_CACHE, else $XDG_CACHE_HOME/printerd-usbvm
// (~/.cache/printerd-usbvm).
func cacheDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PRINTERD_USBVM_CACHE")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			t.Fatalf("usbvm: no cache directory (set PRINTERD_USBVM_CACHE or HOME): %v", err)
		}
		dir = filepath.Join(base, "printerd-usbvm")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("usbvm: cache directory: %v", err)
	}
	return dir
}

// kernel returns Debian's amd64 kernel image and the paths of the modules,
// downloading (apt-get download) and extracting the package into the cache
// the first time.
func kernel(t *testing.T, cache string) (string, map[string]string) {
	t.Helper()
	deb := os.Getenv("PRINTERD_USBVM_KERNEL_DEB")
	if deb == "" {
		pkg := kernelPackage(t)
		debs, _ := filepath.Glob(filepath.Join(cache, pkg+"_*_amd64.deb"))
		if len(debs) == 0 {
			cmd := exec.Command("apt-get", "download", pkg)
			cmd.Dir = cache
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("usbvm: apt-get download %s failed (run apt-get update; %s): %v\n%s", pkg, installHint, err, out)
			}
			debs, _ = filepath.Glob(filepath.Join(cache, pkg+"_*_amd64.deb"))
			if len(debs) == 0 {
				t.Fatalf("usbvm: apt-get download %s left no .deb in %s", pkg, cache)
			}
		}
		deb = debs[len(debs)-1]
	}
	dir := filepath.Join(cache, strings.TrimSuffix(filepath.Base(deb), ".deb"))
	if _, err := os.Stat(filepath.Join(dir, ".done")); err != nil {
		if _, err := exec.LookPath("dpkg-deb"); err != nil {
			t.Fatalf("usbvm: dpkg-deb not found (needed to unpack %s): install dpkg", deb)
		}
		part := dir + ".part"
		os.RemoveAll(part)
		if err := os.MkdirAll(part, 0o755); err != nil {
			t.Fatal(err)
		}
		script := `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards './boot/vmlinuz-*' ` +
			`'./lib/modules/*/kernel/drivers/usb/common/*' './lib/modules/*/kernel/drivers/usb/core/*' ` +
			`'./lib/modules/*/kernel/drivers/usb/usbip/*' './lib/modules/*/kernel/drivers/usb/class/*'`
		if out, err := exec.Command("sh", "-c", script, "sh", deb, part).CombinedOutput(); err != nil {
			t.Fatalf("usbvm: unpacking %s: %v\n%s", deb, err, out)
		}
		os.WriteFile(filepath.Join(part, ".done"), nil, 0o644)
		os.RemoveAll(dir)
		if err := os.Rename(part, dir); err != nil {
			t.Fatal(err)
		}
	}
	vm, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if len(vm) != 1 {
		t.Fatalf("usbvm: want one vmlinuz in %s, found %v", dir, vm)
	}
	mods := map[string]string{}
	filepath.Walk(filepath.Join(dir, "lib"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			name := strings.TrimSuffix(filepath.Base(p), ".ko")
			mods[name] = p
		}
		return nil
	})
	for _, m := range modules {
		if mods[m] == "" {
			t.Fatalf("usbvm: module %s.ko not in %s (compressed modules are not supported)", m, deb)
		}
	}
	return vm[0], mods
}

// kernelPackage resolves linux-image-amd64 to the versioned package name
// (the ABI number changes with security updates).
func kernelPackage(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("apt-cache", "depends", "linux-image-amd64").Output()
	if err != nil {
		t.Fatalf("usbvm: apt-cache depends linux-image-amd64: %v (a Debian host with apt is needed, or set PRINTERD_USBVM_KERNEL_DEB to a linux-image .deb)", err)
	}
	m := regexp.MustCompile(`Depends: (linux-image-\d\S*)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("usbvm: apt-cache depends linux-image-amd64 names no linux-image package (run apt-get update):\n%s", out)
	}
	return string(m[1])
}

// goBuild runs the go command of the toolchain running the test (go test
// puts its own $GOROOT/bin first on PATH).
func goBuild(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("usbvm: go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// sharedLibs lists the shared objects bin needs (ldd), the dynamic loader
// included, so that the dynamically linked test binary (gousb, libusb,
// libudev, libc) runs in the guest as it does on the host.
func sharedLibs(t *testing.T, bin string) []string {
	t.Helper()
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		t.Fatalf("usbvm: ldd %s: %v", bin, err)
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0])
		}
	}
	return libs
}

const initScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp
echo "USBVM: booted in $(cut -d' ' -f1 /proc/uptime) s"
for m in ` + "MODULES" + `; do
  insmod /modules/$m.ko || echo "USBVM: insmod $m failed"
done
echo "USBVM: modules loaded at $(cut -d' ' -f1 /proc/uptime) s"
cd /tmp
/guest.test -test.run '^TestGuest$' -test.v -test.timeout 150s
rc=$?
echo "USBVM: guest tests done at $(cut -d' ' -f1 /proc/uptime) s"
echo "USBVM-RESULT rc=$rc"
/guest.test -test.run '^TestGuestMagicard$' -test.v -test.timeout 60s
echo "USBVM-MAGICARD-RESULT rc=$?"

# USB/IP over TCP, as a new user does it: printerd sim --usbip, then
# Debian's usbip tools attach it to this machine's vhci-hcd.
ip link set lo up
mkdir -p /var/run/vhci_hcd /tmp/cards
/printerd sim --usbip 127.0.0.1:3240 --out /tmp/cards --name tcp >/tmp/sim.log 2>&1 &
for i in 1 2 3 4 5 6 7 8 9 10; do usbip list -r 127.0.0.1 >/tmp/list.log 2>&1 && break; sleep 0.5; done
sed 's/^/USBVM-TCP list| /' /tmp/list.log
usbip attach -r 127.0.0.1 -b 1-1 2>&1 | sed 's/^/USBVM-TCP attach| /'
/guest.test -test.run '^TestGuestTCP$' -test.v -test.timeout 60s
rc=$?
usbip port 2>&1 | sed 's/^/USBVM-TCP port| /'
/printerd diag list 2>&1 | sed 's/^/USBVM-TCP diag| /'
sed 's/^/USBVM-TCP sim| /' /tmp/sim.log
echo "USBVM-TCP-RESULT rc=$rc"
sync
poweroff -f
`

// buildInitramfs writes the gzipped newc initramfs and returns its size.
func buildInitramfs(t *testing.T, path, busybox, guest, printerd, usbipTool string, mods map[string]string) int64 {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	w := newCpio(zw)
	for _, d := range []string{"bin", "sbin", "dev", "proc", "sys", "tmp", "modules", "lib", "lib64", "usr", "usr/lib", "etc"} {
		w.dir(d)
	}
	w.charDev("dev/console", 5, 1)
	w.fileFrom(t, "bin/busybox", busybox, 0o755)
	w.file("init", []byte(strings.Replace(initScript, "MODULES", strings.Join(modules, " "), 1)), 0o755)
	w.fileFrom(t, "guest.test", guest, 0o755)
	for _, m := range modules {
		w.fileFrom(t, "modules/"+m+".ko", mods[m], 0o644)
	}
	w.fileFrom(t, "printerd", printerd, 0o755)
	w.fileFrom(t, "bin/usbip", usbipTool, 0o755)
	if ids := firstExisting("/usr/share/misc/usb.ids", "/usr/share/hwdata/usb.ids"); ids != "" {
		w.mkdirs("usr/share/misc")
		w.fileFrom(t, "usr/share/misc/usb.ids", ids, 0o644)
	}
	seen := map[string]bool{}
	for _, lib := range append(append(sharedLibs(t, guest), sharedLibs(t, printerd)...), sharedLibs(t, usbipTool)...) {
		if seen[lib] {
			continue
		}
		seen[lib] = true
		w.mkdirs(filepath.Dir(strings.TrimPrefix(lib, "/")))
		w.fileFrom(t, strings.TrimPrefix(lib, "/"), lib, 0o755)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return int64(buf.Len())
}

// boot runs the VM to completion and returns its console output.
func boot(t *testing.T, qemu, vmlinuz, initrd string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu,
		"-accel", "tcg", "-M", "pc", "-m", "512", "-smp", "2",
		"-nographic", "-no-reboot", "-nic", "none", "-monitor", "none",
		"-kernel", vmlinuz, "-initrd", initrd,
		"-append", "console=ttyS0 quiet panic=-1 oops=panic")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("usbvm: the VM did not finish in 4 minutes; console tail:\n%s", tail(out.String(), 60))
	}
	if err != nil {
		t.Logf("usbvm: qemu: %v", err)
	}
	return out.Bytes()
}

// cpioWriter writes a newc ("070701") archive, the format the kernel
// unpacks as an initramfs.
type cpioWriter struct {
	w    interface{ Write([]byte) (int, error) }
	ino  int
	dirs map[string]bool
	err  error
}

func newCpio(w interface{ Write([]byte) (int, error) }) *cpioWriter {
	return &cpioWriter{w: w, ino: 1, dirs: map[string]bool{}}
}

func (c *cpioWriter) entry(name string, mode uint32, data []byte, rmaj, rmin int) {
	if c.err != nil {
		return
	}
	c.ino++
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rmaj, rmin, len(name)+1, 0)
	b := append([]byte(hdr), name...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	_, c.err = c.w.Write(b)
}

func (c *cpioWriter) dir(name string) {
	if !c.dirs[name] {
		c.dirs[name] = true
		c.entry(name, 0o040755, nil, 0, 0)
	}
}

func (c *cpioWriter) mkdirs(name string) {
	if name == "." || name == "/" || name == "" {
		return
	}
	c.mkdirs(filepath.Dir(name))
	c.dir(name)
}

func (c *cpioWriter) file(name string, data []byte, perm uint32) {
	c.entry(name, 0o100000|perm, data, 0, 0)
}

func (c *cpioWriter) fileFrom(t *testing.T, name, src string, perm uint32) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("usbvm: initramfs: %v", err)
	}
	c.file(name, data, perm)
}

func (c *cpioWriter) charDev(name string, major, minor int) {
	c.entry(name, 0o020600, nil, major, minor)
}

func (c *cpioWriter) close() error {
	c.entry("TRAILER!!!", 0, nil, 0, 0)
	return c.err
}
