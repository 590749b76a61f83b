// Package qemuvm boots Debian's own amd64 kernel under QEMU with software
// emulation (TCG: KVM on these machines is nested PVM and cannot run a
// stock kernel) for the tests that need a real Linux: the USB stack
// (drivers/usb/vmtest) and the Debian package under systemd
// (packaging/debtest). It downloads the kernel package once into a cache,
// writes initramfs archives (newc cpio) and runs the guest to completion,
// returning its serial console. See ../../../shared/usb-vm.md.
package qemuvm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// InstallHint says how to get what the VM tests need.
const InstallHint = "run scripts/deps.sh test (it installs qemu-system-x86, busybox-static and usbip with apt-get)"

// CacheDir returns (and makes) the cache directory: $env if set, else
// $XDG_CACHE_HOME/name (~/.cache/name).
func CacheDir(env, name string) (string, error) {
	dir := os.Getenv(env)
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("qemuvm: no cache directory (set %s or HOME): %w", env, err)
		}
		dir = filepath.Join(base, name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("qemuvm: cache directory: %w", err)
	}
	return dir, nil
}

// Kernel is Debian's kernel unpacked in the cache.
type Kernel struct {
	Vmlinuz string // boot/vmlinuz-*
	Dir     string // the unpacked tree: boot/, lib/modules/<release>/kernel/...
	Release string // uname -r, e.g. 6.1.0-57-amd64
	// Modules maps a module's name (usbcore, vhci-hcd) to its .ko file.
	Modules map[string]string
}

// KernelDebEnv names a linux-image .deb to use instead of downloading one.
const KernelDebEnv = "PRINTERD_USBVM_KERNEL_DEB"

// GetKernel returns Debian's amd64 kernel with its USB modules, downloading
// the package (apt-get download; apt-cache depends resolves the ABI name)
// into cache and unpacking vmlinuz and drivers/usb the first time.
func GetKernel(cache string) (*Kernel, error) {
	deb := os.Getenv(KernelDebEnv)
	if deb == "" {
		pkg, err := kernelPackage()
		if err != nil {
			return nil, err
		}
		debs, _ := filepath.Glob(filepath.Join(cache, pkg+"_*_amd64.deb"))
		if len(debs) == 0 {
			cmd := exec.Command("apt-get", "download", pkg)
			cmd.Dir = cache
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("qemuvm: apt-get download %s failed (run apt-get update; %s): %w\n%s", pkg, InstallHint, err, out)
			}
			debs, _ = filepath.Glob(filepath.Join(cache, pkg+"_*_amd64.deb"))
			if len(debs) == 0 {
				return nil, fmt.Errorf("qemuvm: apt-get download %s left no .deb in %s", pkg, cache)
			}
		}
		deb = debs[len(debs)-1]
	}
	dir := filepath.Join(cache, strings.TrimSuffix(filepath.Base(deb), ".deb"))
	if _, err := os.Stat(filepath.Join(dir, ".done")); err != nil {
		if _, err := exec.LookPath("dpkg-deb"); err != nil {
			return nil, fmt.Errorf("qemuvm: dpkg-deb not found (needed to unpack %s): install dpkg", deb)
		}
		part := dir + ".part"
		os.RemoveAll(part)
		if err := os.MkdirAll(part, 0o755); err != nil {
			return nil, fmt.Errorf("qemuvm: %w", err)
		}
		script := `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards './boot/vmlinuz-*' ` +
			`'./lib/modules/*/kernel/drivers/usb/common/*' './lib/modules/*/kernel/drivers/usb/core/*' ` +
			`'./lib/modules/*/kernel/drivers/usb/usbip/*' './lib/modules/*/kernel/drivers/usb/class/*'`
		if out, err := exec.Command("sh", "-c", script, "sh", deb, part).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("qemuvm: unpacking %s: %w\n%s", deb, err, out)
		}
		os.WriteFile(filepath.Join(part, ".done"), nil, 0o644)
		os.RemoveAll(dir)
		if err := os.Rename(part, dir); err != nil {
			return nil, fmt.Errorf("qemuvm: %w", err)
		}
	}
	vm, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if len(vm) != 1 {
		return nil, fmt.Errorf("qemuvm: want one vmlinuz in %s, found %v", dir, vm)
	}
	k := &Kernel{Vmlinuz: vm[0], Dir: dir, Release: strings.TrimPrefix(filepath.Base(vm[0]), "vmlinuz-"), Modules: map[string]string{}}
	filepath.Walk(filepath.Join(dir, "lib"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".ko") {
			k.Modules[strings.TrimSuffix(filepath.Base(p), ".ko")] = p
		}
		return nil
	})
	return k, nil
}

// Need returns an error naming the first module of names the kernel lacks.
func (k *Kernel) Need(names ...string) error {
	for _, m := range names {
		if k.Modules[m] == "" {
			return fmt.Errorf("qemuvm: module %s.ko not in %s (compressed modules are not supported)", m, k.Dir)
		}
	}
	return nil
}

// kernelPackage resolves linux-image-amd64 to the versioned package name
// (the ABI number changes with security updates).
func kernelPackage() (string, error) {
	out, err := exec.Command("apt-cache", "depends", "linux-image-amd64").Output()
	if err != nil {
		return "", fmt.Errorf("qemuvm: apt-cache depends linux-image-amd64: %w (a Debian host with apt is needed, or set %s to a linux-image .deb)", err, KernelDebEnv)
	}
	m := regexp.MustCompile(`Depends: (linux-image-\d\S*)`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("qemuvm: apt-cache depends linux-image-amd64 names no linux-image package (run apt-get update):\n%s", out)
	}
	return string(m[1]), nil
}

// Boot describes one guest run.
type Boot struct {
	Kernel  string // vmlinuz
	Initrd  string // the initramfs (newc cpio, gzipped or not)
	Append  string // kernel command line
	MemMiB  int    // default 512
	Timeout time.Duration
}

// ErrTimeout is returned (wrapped) when the guest did not power off in time.
var ErrTimeout = errors.New("qemuvm: the guest did not finish in time")

// Run boots the guest (TCG, 2 CPUs, no network, serial console on stdout)
// and returns its console output once it powers off, and ErrTimeout with
// the output so far if it does not within b.Timeout.
func Run(ctx context.Context, b Boot) ([]byte, error) {
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, fmt.Errorf("qemuvm: qemu-system-x86_64 not found: %s", InstallHint)
	}
	if b.MemMiB == 0 {
		b.MemMiB = 512
	}
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu,
		"-accel", "tcg", "-M", "pc", "-m", fmt.Sprint(b.MemMiB), "-smp", "2",
		"-nographic", "-no-reboot", "-nic", "none", "-monitor", "none",
		"-kernel", b.Kernel, "-initrd", b.Initrd, "-append", b.Append)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err = cmd.Run()
	if ctx.Err() != nil {
		return out.Bytes(), fmt.Errorf("%w (%v)", ErrTimeout, b.Timeout)
	}
	if err != nil {
		// QEMU exits non-zero through isa-debug-exit; the console says more.
		return out.Bytes(), nil
	}
	return out.Bytes(), nil
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
