// Package systemd tells systemd about the daemon's life (sd_notify): READY=1
// once it serves, WATCHDOG=1 while it is healthy and STOPPING=1 when it
// drains. Every function does nothing when the process was not started by
// systemd with Type=notify (no $NOTIFY_SOCKET) or without WatchdogSec=.
package systemd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready sends READY=1 and, if status is not empty, STATUS=status (shown by
// systemctl status). It reports whether systemd was told.
func Ready(status string) (bool, error) {
	return notify(daemon.SdNotifyReady, status)
}

// Stopping sends STOPPING=1 and, if status is not empty, STATUS=status.
func Stopping(status string) (bool, error) {
	return notify(daemon.SdNotifyStopping, status)
}

func notify(state, status string) (bool, error) {
	if status != "" {
		state += "\nSTATUS=" + strings.ReplaceAll(status, "\n", " ")
	}
	ok, err := daemon.SdNotify(false, state)
	if err != nil {
		return false, fmt.Errorf("systemd: sd_notify %s: %w", strings.SplitN(state, "\n", 2)[0], err)
	}
	return ok, nil
}

// Watchdog sends WATCHDOG=1 at half the interval systemd asked for
// (WatchdogSec=, passed as $WATCHDOG_USEC) for as long as healthy returns
// true, so that systemd kills and restarts a daemon that hangs or stops
// being healthy. It returns when ctx is done, or at once when no watchdog
// was asked for.
func Watchdog(ctx context.Context, healthy func() bool) error {
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return fmt.Errorf("systemd: WATCHDOG_USEC: %w", err)
	}
	if every == 0 {
		return nil
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		if healthy() {
			if _, err := daemon.SdNotify(false, daemon.SdNotifyWatchdog); err != nil {
				return fmt.Errorf("systemd: sd_notify WATCHDOG=1: %w", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
