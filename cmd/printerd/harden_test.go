package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNoCoreDumps: after noCoreDumps the process may write no core dump
// (RLIMIT_CORE 0) and is not dumpable. It runs in a child process, so
// that the test binary itself stays debuggable.
func TestNoCoreDumps(t *testing.T) {
	if os.Getenv("PRINTERD_TEST_HARDEN_CHILD") == "1" {
		if err := noCoreDumps(); err != nil {
			fmt.Println("error", err)
			return
		}
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_CORE, &rl)
		d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		fmt.Printf("core %d/%d dumpable %d\n", rl.Cur, rl.Max, d)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoCoreDumps$")
	cmd.Env = append(os.Environ(), "PRINTERD_TEST_HARDEN_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "core 0/0 dumpable 0") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
