package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// drainTimeout bounds the wait for the cards in the printers at shutdown.
const drainTimeout = 3 * time.Minute

// cmdRun is printerd run: configuration (file, environment, flags) ->
// validate -> start -> wait for a signal. SIGTERM and SIGINT drain (finish
// the card in each printer, take no new job); a second one stops at once.
// SIGHUP reloads what can change live.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig("run", args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "printerd run: %v\n", err)
		return exitUsage
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "printerd run: %v\n", err)
		return exitUsage
	}
	level := new(slog.LevelVar)
	l, _ := parseLevel(cfg.LogLevel)
	level.Set(l)
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	term := make(chan os.Signal, 1)
	signal.Notify(term, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(term)
	reread := func() (config, error) {
		c, err := loadConfig("run", args, os.Getenv, io.Discard)
		if err != nil {
			return c, err
		}
		return c, c.validate()
	}
	// main's signal context is not used: the first SIGTERM/SIGINT from
	// term starts the drain, a second one (same channel) ends it.
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	go func() {
		select {
		case s := <-term:
			log.Info("printerd: signal", "signal", s.String())
			stop()
		case <-runCtx.Done():
		}
	}()
	return runDaemon(runCtx, cfg, daemonDeps{log: log, level: level}, runSignals{hup: hup, term: term, reread: reread,
		started: func(d *daemon) { notifySystemd(runCtx, log, d) }})
}

// runSignals are the daemon's control inputs; tests leave them nil (the
// NoSigs way) and cancel ctx instead.
type runSignals struct {
	hup    <-chan os.Signal
	term   <-chan os.Signal // a signal after ctx is done stops draining
	reread func() (config, error)
	// started, if set, is called once the daemon is up.
	started func(*daemon)
}

// runDaemon starts the daemon and runs it until ctx is done, then drains.
func runDaemon(ctx context.Context, cfg config, deps daemonDeps, sig runSignals) int {
	log := deps.log
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	d, err := startDaemon(startCtx, cfg, deps)
	cancel()
	if err != nil {
		log.Error("printerd: start failed", "err", err)
		return exitFail
	}
	if sig.started != nil {
		sig.started(d)
	}
	for {
		select {
		case <-sig.hup:
			log.Info("printerd: SIGHUP: reloading configuration")
			next, err := sig.reread()
			if err != nil {
				log.Error("printerd: reload: configuration not changed", "err", err)
				continue
			}
			d.reload(next)
			continue
		case <-ctx.Done():
		}
		break
	}
	log.Info("printerd: stopping: finishing the cards in the printers, taking no new job (signal again to stop at once)")
	dctx, dcancel := context.WithTimeout(context.Background(), drainTimeout)
	go func() {
		select {
		case <-sig.term:
			log.Warn("printerd: second signal: stopping now; a card in a printer will be held")
			dcancel()
		case <-dctx.Done():
		}
	}()
	err = d.drain(dctx)
	dcancel()
	d.close()
	if err != nil {
		log.Error("printerd: drain incomplete; an unfinished card's job will be held", "err", err)
		return exitFail
	}
	log.Info("printerd: stopped")
	return exitOK
}
