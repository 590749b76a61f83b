package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// noCoreDumps keeps the process from writing core dumps: a dump of the
// daemon holds the names and photos of the cards in memory. It sets
// RLIMIT_CORE to 0 and marks the process not dumpable (which also keeps
// other processes of the same user from attaching a debugger or reading
// its memory through /proc).
func noCoreDumps() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("printerd: disable core dumps: setrlimit RLIMIT_CORE: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("printerd: disable core dumps: prctl PR_SET_DUMPABLE: %w", err)
	}
	return nil
}
