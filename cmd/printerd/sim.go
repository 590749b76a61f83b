package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/cityid/printerd/card"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/sim"
)

const simSynopsis = "printerd sim [--lang evolis|magicard [--layout kee|kge]] [--listen tcp://127.0.0.1:9100 | --pty | --usbip ADDR] [--faults SPEC] [--speed X] [--out DIR]"

// simPrinter is a simulated printer of either language, as printerd sim
// serves it.
type simPrinter interface {
	Serve(ctx context.Context, rw io.ReadWriter) error
	Options() sim.Options
	Counters() drivers.Counters
	DeviceID() string
	PortStatus() byte
	SoftReset()
}

// cmdSim is printerd sim: a simulated Evolis printer as its own process, on
// a TCP listener (one connection at a time), a pseudo-terminal or USB/IP.
func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("printerd sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\nflags:\n", simSynopsis)
		fs.PrintDefaults()
		fmt.Fprintln(stderr, `
faults (--faults SPEC, comma-separated, e.g. jam=y@2,ribbon-out-after=10):
  ribbon-out-after=N     the ribbon prints N more card sides, then runs out (no card fed)
  ribbon-out=STAGE[@N]   the ribbon breaks at STAGE, card inside
  jam=STAGE[@N]          the card jams at STAGE, card inside until reset
  cover-open=STAGE[@N]   the cover opens at STAGE (at feed: before the card moves)
  cover-open             the cover is open now
  feeder-empty           no cards in the feeder
  feeder=N               N cards in the feeder
  silent-after=N         after N more commands the printer answers nothing but a reset
  drop=STAGE[@N]         the link drops at STAGE, card inside
  garbage=N              after N more commands, one reply is garbage bytes
  need-cleaning-after=N  after N more cards the printer asks for cleaning
STAGE is feed, y, m, c, k, o or eject; @N is the Nth card fed from now (default 1).`)
	}
	listen := fs.String("listen", "", "TCP address to serve, tcp://HOST:PORT (default tcp://127.0.0.1:9100 when no other mode is chosen)")
	usePty := fs.Bool("pty", false, "serve on a new pseudo-terminal and print its path")
	usbip := fs.String("usbip", "", "serve as a USB printer over USB/IP on ADDR")
	faults := fs.String("faults", "", "faults to inject, e.g. jam=y@2,ribbon-out-after=10")
	speed := fs.Float64("speed", 0, "mechanical pace: 0 no delay, 1 a real printer (about 16 s a YMCKO card)")
	out := fs.String("out", "", "directory for each printed card's <label>-front.png / -back.png")
	name := fs.String("name", "sim", "device name (logs)")
	feeder := fs.Int("feeder", 0, "blank cards in the feeder (0: 100)")
	ribbon := fs.Int("ribbon-cards", 0, "card sides the ribbon can print (0: 300)")
	ribbonType := fs.String("ribbon", string(card.YMCKO), "ribbon loaded, as the printer reports it: ymcko, ymckok, ko or k")
	verbose := fs.Bool("verbose", false, "log every command (names only)")
	vpcd := fs.String("vpcd", "", "encoder station: present each card's virtual chip to pcscd through vsmartcard's vpcd at HOST:PORT (e.g. 127.0.0.1:35963) while the card is there")
	lang := fs.String("lang", "evolis", "printer language: evolis or magicard (the Magicard text protocol)")
	mcLayout := fs.String("layout", "kee", "with --lang magicard: line layout, kee (Tango 2E, USB 0c1f:1800) or kge (Enduro 3E, 0c1f:4800)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "printerd sim: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	modes := 0
	for _, on := range []bool{*listen != "", *usePty, *usbip != ""} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		fmt.Fprintln(stderr, "printerd sim: choose one of --listen, --pty and --usbip")
		return exitUsage
	}
	if modes == 0 {
		*listen = "tcp://127.0.0.1:9100"
	}
	f, err := sim.ParseFaults(*faults)
	if err != nil {
		fmt.Fprintf(stderr, "printerd sim: --faults: %v\n", err)
		return exitUsage
	}
	if err := card.Ribbon(*ribbonType).Valid(); err != nil {
		fmt.Fprintf(stderr, "printerd sim: --ribbon: %v\n", err)
		return exitUsage
	}
	if *speed < 0 {
		fmt.Fprintln(stderr, "printerd sim: --speed must be 0 or more")
		return exitUsage
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(newLogHandler(stderr, "", level))
	so := sim.Options{Name: *name, Speed: *speed, Out: *out, Faults: f, FeederCards: *feeder, RibbonCards: *ribbon, Ribbon: card.Ribbon(*ribbonType), Logger: log, VPCD: *vpcd}
	var dev simPrinter
	switch {
	case *lang == "evolis":
		dev = sim.New(so)
	case *lang == "magicard" && (*mcLayout == sim.MagicardKEE || *mcLayout == sim.MagicardKGE):
		mc := sim.NewMagicard(sim.MagicardOptions{Options: so, Layout: *mcLayout})
		defer mc.Close()
		dev = mc
	case *lang == "magicard":
		fmt.Fprintf(stderr, "printerd sim: --layout %q: want kee or kge\n", *mcLayout)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "printerd sim: --lang %q: want evolis or magicard\n", *lang)
		return exitUsage
	}

	switch {
	case *usePty:
		err = simPty(ctx, dev, stdout, log)
	case *usbip != "":
		err = serveUSBIP(ctx, dev, *usbip)
	default:
		err = simTCP(ctx, dev, *listen, stdout, log)
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "printerd sim: %v\n", err)
		return exitFail
	}
	c := dev.Counters()
	fmt.Fprintf(stdout, "printerd sim: stopped after %d cards printed, %d rejected\n", c.Printed, c.Rejected)
	return exitOK
}

// simTCP serves dev on a TCP listener, one connection at a time, until ctx
// ends. It prints the address it listens on (useful with port 0).
func simTCP(ctx context.Context, dev simPrinter, listen string, stdout io.Writer, log *slog.Logger) error {
	addr := listen
	if strings.Contains(listen, "://") {
		u, err := url.Parse(listen)
		if err != nil || u.Scheme != "tcp" || u.Host == "" {
			return fmt.Errorf("--listen %q: want tcp://HOST:PORT", listen)
		}
		addr = u.Host
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "printerd sim: listening on tcp://%s\n", ln.Addr())
	var mu sync.Mutex
	var cur net.Conn
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		if cur != nil {
			cur.Close()
		}
		mu.Unlock()
	})
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("accept: %w", err)
		}
		mu.Lock()
		cur = conn
		mu.Unlock()
		log.Info("sim: connection", "remote", conn.RemoteAddr().String())
		err = dev.Serve(ctx, conn)
		conn.Close()
		mu.Lock()
		cur = nil
		mu.Unlock()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			log.Info("sim: connection ended", "err", err)
		default:
			log.Info("sim: connection closed")
		}
	}
}

// simPty serves dev on a new pseudo-terminal until ctx ends. It prints the
// slave's path, which a driver opens as serial:///dev/pts/N. A drop fault
// cannot unplug a pty: the device just starts a new session on it.
func simPty(ctx context.Context, dev simPrinter, stdout io.Writer, log *slog.Logger) error {
	master, slave, err := pty.Open()
	if err != nil {
		return fmt.Errorf("pty: %w", err)
	}
	defer master.Close()
	// Keep the slave open so that the master does not fail while no
	// driver has the port open, and make it raw: no echo, no CR/NL
	// translation, every byte as it comes.
	defer slave.Close()
	if err := makeRaw(slave); err != nil {
		return fmt.Errorf("pty: raw mode: %w", err)
	}
	fmt.Fprintf(stdout, "printerd sim: pty %s (printer URI serial://%s)\n", slave.Name(), slave.Name())
	stop := context.AfterFunc(ctx, func() { master.Close() })
	defer stop()
	for {
		err := dev.Serve(ctx, master)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, sim.ErrDropped) {
			return err
		}
		log.Info("sim: link dropped by fault; serving the pty again")
	}
}

// makeRaw puts a terminal in raw mode (cfmakeraw).
func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
