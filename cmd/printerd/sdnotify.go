package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cityid/printerd/daemon"
	"github.com/cityid/printerd/internal/systemd"
)

// notifySystemd is called once the daemon is up. Under systemd
// (Type=notify, see packaging/printerd.service) it sends READY=1 with a
// status line, feeds the watchdog while the daemon is healthy, and sends
// STOPPING=1 when ctx ends (the drain starts). Elsewhere it does nothing.
//
// Healthy means the daemon still has its NATS connection when NATS is
// embedded (losing an in-process connection means the server died). A
// joined deployment's outage is not unhealthy: the client reconnects, and a
// restart would not help while a card may be in a printer.
func notifySystemd(ctx context.Context, log *slog.Logger, d *daemon.Daemon) {
	status := fmt.Sprintf("serving %d printer(s) for site %s", len(d.Config().Printers), d.Config().Site)
	if _, err := systemd.Ready(status); err != nil {
		log.Warn("printerd: systemd notify", "err", err)
	}
	go func() {
		<-ctx.Done()
		systemd.Stopping("finishing the cards in the printers, taking no new job")
	}()
	healthy := func() bool { return !d.Embedded() || d.Conn().IsConnected() }
	// The watchdog is fed through the drain too; it ends with the process.
	go func() {
		if err := systemd.Watchdog(context.WithoutCancel(ctx), healthy); err != nil {
			log.Warn("printerd: systemd watchdog", "err", err)
		}
	}()
}
