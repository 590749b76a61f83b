package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// buildPrinterd builds the printerd binary into a temp dir.
func buildPrinterd(t testing.TB) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build printerd for this test: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "printerd")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is printerd run as a child process; its standard error (the JSON
// log) goes to a file.
type proc struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

func startProc(t testing.TB, bin, logPath string, args ...string) *proc {
	t.Helper()
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = lf
	cmd.Stdout = lf
	cmd.Env = append(os.Environ(), "PRINTERD_CONFIG=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); lf.Close(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitLog waits until the log holds s.
func (p *proc) waitLog(ctx context.Context, s string) error {
	for {
		b, _ := os.ReadFile(p.logPath)
		if bytes.Contains(b, []byte(s)) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("printerd exited (%v) before logging %q:\n%s", p.err, s, b)
		case <-ctx.Done():
			return fmt.Errorf("no %q in the log: %w\n%s", s, ctx.Err(), b)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// exitCode waits for the process and returns its exit status.
func (p *proc) exitCode(ctx context.Context) (int, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// connectRetry connects a client, as the fixture user name, that rides
// out daemon restarts.
func (f *e2eFixture) connectRetry(t testing.TB, url, name string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return f.connect(t, url, name, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
}

// procArgs are printerd run's flags for a fixture.
func (f *e2eFixture) procArgs(natsPort int, http string, printers ...string) []string {
	args := []string{"run", "--state", f.state, "--nats-listen", "127.0.0.1:" + strconv.Itoa(natsPort),
		"--http", http, "--approver-keys", f.approvers, "--issuer-key", f.issuerKey, "--ack-wait", "2s"}
	for _, p := range printers {
		args = append(args, "--printer", p)
	}
	return args
}

func sigterm(p *proc) { p.cmd.Process.Signal(syscall.SIGTERM) }

// countSuffix counts the names in files ending in sfx.
func countSuffix(files map[string]bool, sfx string) int {
	n := 0
	for f := range files {
		if strings.HasSuffix(f, sfx) {
			n++
		}
	}
	return n
}
