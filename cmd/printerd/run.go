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

	"github.com/cityid/printerd/daemon"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/internal/natsconn"
	"github.com/cityid/printerd/layout"
	"github.com/cityid/printerd/queue"
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
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "printerd run: %v\n", err)
		return exitUsage
	}
	level := new(slog.LevelVar)
	l, _ := daemon.ParseLevel(cfg.LogLevel)
	level.Set(l)
	log := slog.New(newLogHandler(stderr, cfg.LogFormat, level))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	term := make(chan os.Signal, 1)
	signal.Notify(term, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(term)
	reread := func() (daemon.Config, error) {
		c, err := loadConfig("run", args, os.Getenv, io.Discard)
		if err != nil {
			return c, err
		}
		return c, c.Validate()
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
		started: func(d *daemon.Daemon) { notifySystemd(runCtx, log, d) }})
}

// daemonDeps are what a caller wires into a daemon beside its settings:
// the demo and the tests use them; printerd run leaves most zero.
type daemonDeps struct {
	log   *slog.Logger
	level *slog.LevelVar
	// registry opens printers; nil means newRegistry(sims).
	registry *drivers.Registry
	// sims holds the simulated devices behind sim:// printers, for callers
	// that look them up (demo, tests); nil means a fresh one per daemon.
	sims *sim.Registry
	// maker overrides the layout maker (load harness); nil means layout.
	maker queue.Maker
	// onCard sees each rendered card (demo proofs).
	onCard func(jobID string, c *layout.Card)
	// tune adjusts the queue configuration (tests, benchmarks).
	tune func(*queue.Config)
	// wrap, if set, wraps each opened printer (the load harness times
	// Print calls).
	wrap func(name string, p drivers.Printer) drivers.Printer
}

// startDaemon makes and starts a daemon from validated settings: the
// printer registry and the layout maker (issuer key, templates) unless
// deps brings its own.
func startDaemon(ctx context.Context, cfg daemon.Config, deps daemonDeps) (*daemon.Daemon, error) {
	opts := daemon.Options{Config: cfg, Registry: deps.registry, Maker: deps.maker,
		Logger: deps.log, Level: deps.level, Tune: deps.tune, Wrap: deps.wrap}
	if opts.Registry == nil {
		reg, err := newRegistry(deps.sims)
		if err != nil {
			return nil, err
		}
		opts.Registry = reg
	}
	if opts.Maker == nil {
		m, err := newLayoutMaker(cfg, deps.onCard)
		if err != nil {
			return nil, err
		}
		opts.Maker = m
	}
	d, err := daemon.New(opts)
	if err != nil {
		return nil, err
	}
	if err := d.Start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// runSignals are the daemon's control inputs; tests leave them nil (the
// NoSigs way) and cancel ctx instead.
type runSignals struct {
	hup    <-chan os.Signal
	term   <-chan os.Signal // a signal after ctx is done stops draining
	reread func() (daemon.Config, error)
	// started, if set, is called once the daemon is up.
	started func(*daemon.Daemon)
}

// runDaemon starts the daemon and runs it until ctx is done, then drains
// and shuts it down.
func runDaemon(ctx context.Context, cfg daemon.Config, deps daemonDeps, sig runSignals) int {
	log := deps.log
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	d, err := startDaemon(startCtx, cfg, deps)
	cancel()
	if err != nil {
		log.Error("printerd: start failed", "err", err)
		return exitFail
	}
	log.Info("printerd: running", "site", cfg.Site, "printers", len(cfg.Printers), "nats", natsconn.RedactURLs(d.NATSURL()), "http", d.HTTPAddr())
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
			if err := d.Reload(next); err != nil {
				log.Error("printerd: reload incomplete", "err", err)
			}
			log.Info("printerd: reloaded")
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
	err = d.Drain(dctx)
	dcancel()
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	serr := d.Shutdown(sctx)
	scancel()
	if err != nil {
		log.Error("printerd: drain incomplete; an unfinished card's job will be held", "err", err)
		return exitFail
	}
	if serr != nil {
		log.Error("printerd: shutdown incomplete", "err", serr)
		return exitFail
	}
	log.Info("printerd: stopped")
	return exitOK
}
