package usbip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// VHCIAttachFile is the sysfs file vhci-hcd takes attach requests on.
const VHCIAttachFile = "/sys/devices/platform/vhci_hcd.0/attach"

// attachRetry bounds how long AttachVHCI retries a port the kernel has not
// released yet (after an unplug).
const attachRetry = 5 * time.Second

// AttachVHCI plugs d into this machine's own vhci-hcd (Linux, root, module
// vhci-hcd loaded) on a high-speed port (0 is the first), through a
// socketpair: no network is involved. It re-attaches after Plug and
// returns when ctx ends or d is closed. attached, if not nil, is called
// each time the kernel has taken the device.
func AttachVHCI(ctx context.Context, d *Device, port int, attached func()) error {
	if _, err := os.Stat(VHCIAttachFile); err != nil {
		return fmt.Errorf("usbip: %s is missing: load the vhci-hcd module (modprobe vhci-hcd): %w", VHCIAttachFile, err)
	}
	for {
		if err := d.waitPlugged(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return nil // closed
		}
		conn, err := attachOnce(ctx, d, port)
		if err != nil {
			return err
		}
		if attached != nil {
			attached()
		}
		err = d.ServeConn(ctx, conn)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			slog.Warn("usbip: vhci connection ended", "err", err)
		}
		// The kernel let go of the device (usbip detach, or an error):
		// that is an unplug until someone plugs it in again.
		d.Unplug()
	}
}

// attachOnce makes a socketpair and hands one end to vhci-hcd.
func attachOnce(ctx context.Context, d *Device, port int) (net.Conn, error) {
	deadline := time.Now().Add(attachRetry)
	for {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("usbip: socketpair: %w", err)
		}
		line := fmt.Sprintf("%d %d %d %d", port, fds[1], d.cfg.devid(), speedHigh)
		err = os.WriteFile(VHCIAttachFile, []byte(line), 0)
		syscall.Close(fds[1]) // the kernel holds its own reference
		if err == nil {
			f := os.NewFile(uintptr(fds[0]), "usbip-vhci")
			conn, err := net.FileConn(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("usbip: socketpair as conn: %w", err)
			}
			return conn, nil
		}
		syscall.Close(fds[0])
		// EBUSY or EINVAL: the port is still being released after an unplug.
		busy := errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EINVAL)
		if !busy || time.Now().After(deadline) {
			return nil, fmt.Errorf("usbip: attach %q to %s: %w%s", line, VHCIAttachFile, err, permHint(err))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func permHint(err error) string {
	if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "permission") {
		return " (attaching to vhci-hcd needs root)"
	}
	return ""
}
