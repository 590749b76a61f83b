package queue

import "sync"

// worker runs one printer: it fetches one job at a time from its pool's
// consumer when the printer is ready, and prints it.
type worker struct {
	d      *Daemon
	p      Printer
	mu     sync.Mutex // held while a card prints or a diag verb runs
	smu    sync.Mutex
	paused bool
}

func (w *worker) setPaused(v bool) {
	w.smu.Lock()
	w.paused = v
	w.smu.Unlock()
}
