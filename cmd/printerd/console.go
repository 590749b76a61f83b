package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cityid/printerd/console"
)

// cmdConsole is printerd console: the office console as its own process,
// reaching the site's daemons only through NATS, and `printerd console
// users add` to make its users.
func cmdConsole(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "users" {
		return cmdConsoleUsers(args[1:], os.Stdin, stdout, stderr)
	}
	fs := flag.NewFlagSet("printerd console", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: printerd console [--nats URL --nats-creds FILE] [--listen ADDR] [--site S] [--state DIR]
       printerd console users add --role clerk|technician|admin NAME [--password-file FILE] [--users FILE]

The office console for clerks and technicians: an HTTPS site (the operator's
certificate, or a self-signed one made in --state on first run, its SHA-256
fingerprint printed) that reaches the site's daemons only through their NATS
services, as a console-role NATS user acting for the person signed in.`)
		fs.PrintDefaults()
	}
	var nc natsClient
	nc.addFlags(fs)
	fs.StringVar(&nc.Creds, "creds", nc.Creds, "NATS credentials file (same as --nats-creds)")
	listen := fs.String("listen", envOr("PRINTERD_CONSOLE_LISTEN", "127.0.0.1:8443"), "host:port to serve HTTPS on")
	site := fs.String("site", envOr("PRINTERD_SITE", "local"), "site")
	state := fs.String("state", envOr("PRINTERD_CONSOLE_STATE", defaultConsoleState()), "directory for the self-signed certificate, the users file and reprint requests")
	users := fs.String("users", "", "users file (default <state>/console-users.json)")
	cert := fs.String("tls-cert", "", "TLS certificate (PEM); empty: self-signed in --state")
	key := fs.String("tls-key", "", "TLS key (PEM), with --tls-cert")
	name := fs.String("name", "console-"+hostname(), "this console's name in logs and audit records")
	pos, status, done := parseArgs(fs, args)
	if done {
		return status
	}
	if len(pos) != 0 {
		fmt.Fprintf(stderr, "printerd console: unexpected argument %q\n", pos[0])
		return exitUsage
	}
	if *users == "" {
		*users = filepath.Join(*state, "console-users.json")
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	us, err := console.LoadUsers(*users)
	if err != nil {
		fmt.Fprintf(stderr, "printerd console: %v\n", err)
		return exitUsage
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		fmt.Fprintln(stderr, "printerd console: --listen must be host:port")
		return exitUsage
	}
	c, created, err := console.LoadCertificate(*cert, *key, *state, []string{host})
	if err != nil {
		fmt.Fprintf(stderr, "printerd console: %v\n", err)
		return exitFail
	}
	if created {
		fmt.Fprintf(stdout, "made a self-signed certificate in %s\n", *state)
	}
	fmt.Fprintf(stdout, "certificate SHA-256 fingerprint: %s\n", console.Fingerprint(c))
	conn, err := nc.Connect("printerd console")
	if err != nil {
		fmt.Fprintf(stderr, "printerd console: %v\n", err)
		return exitFail
	}
	defer conn.Close()
	srv, err := console.New(console.Config{NC: conn, Site: *site, Name: *name, Users: us, Certificate: c, StateDir: *state, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "printerd console: %v\n", err)
		return exitFail
	}
	if err := srv.Listen(*listen); err != nil {
		fmt.Fprintf(stderr, "printerd console: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "console for site %s on https://%s/\n", *site, srv.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "printerd console: %v\n", err)
		return exitFail
	}
	return exitOK
}

func defaultConsoleState() string {
	if s := os.Getenv("STATE_DIRECTORY"); s != "" {
		return s
	}
	return "/var/lib/printerd"
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "1"
	}
	return strings.Split(h, ".")[0]
}

// cmdConsoleUsers is printerd console users add.
func cmdConsoleUsers(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(stderr, "usage: printerd console users add --role clerk|technician|admin NAME [--password-file FILE] [--users FILE]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return exitOK
		}
		return exitUsage
	}
	fs := flag.NewFlagSet("printerd console users add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "clerk, technician or admin")
	pwFile := fs.String("password-file", "", "read the password from the first line of this file (default: ask on the terminal)")
	state := fs.String("state", envOr("PRINTERD_CONSOLE_STATE", defaultConsoleState()), "state directory holding console-users.json")
	users := fs.String("users", "", "users file (default <state>/console-users.json)")
	pos, status, done := parseArgs(fs, args[1:])
	if done {
		return status
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "printerd console users add: want exactly one NAME")
		return exitUsage
	}
	if *role == "" {
		fmt.Fprintf(stderr, "printerd console users add: --role is required: %s\n", strings.Join(console.Roles, ", "))
		return exitUsage
	}
	if *users == "" {
		*users = filepath.Join(*state, "console-users.json")
	}
	pw, err := readPassword(*pwFile, stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "printerd console users add: %v\n", err)
		return exitUsage
	}
	if err := console.AddUser(*users, pos[0], *role, pw, console.DefaultParams); err != nil {
		fmt.Fprintf(stderr, "printerd console users add: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s (%s) can sign in to the console; users file %s\n", pos[0], *role, *users)
	return exitOK
}

// readPassword reads the first line of file, or asks twice on the terminal
// without echo.
func readPassword(file string, stdin *os.File, stderr io.Writer) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("password-file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimRight(line, "\r"), nil
	}
	fd := int(stdin.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", errors.New("standard input is not a terminal: give --password-file")
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	r := bufio.NewReader(stdin)
	ask := func(prompt string) (string, error) {
		fmt.Fprint(stderr, prompt)
		line, err := r.ReadString('\n')
		fmt.Fprintln(stderr)
		return strings.TrimRight(line, "\r\n"), err
	}
	a, err := ask("password: ")
	if err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	b, err := ask("again: ")
	if err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	if a != b {
		return "", errors.New("the two passwords differ")
	}
	return a, nil
}
