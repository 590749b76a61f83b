package queue

// Paused reports whether a printer's worker is paused (false for an
// unknown printer).
func (d *Daemon) Paused(printer string) bool {
	w, ok := d.workers[printer]
	return ok && w.isPaused()
}

// PrinterStates returns the state of each printer this daemon holds, by
// name: the last status its worker read (ready, problems, ribbon and cards
// left), with whether it is paused and the job in it now.
func (d *Daemon) PrinterStates() []PrinterStatus {
	out := make([]PrinterStatus, 0, len(d.workers))
	for _, name := range d.Printers() {
		w := d.workers[name]
		w.smu.Lock()
		ps := w.last
		ps.Site, ps.Printer, ps.Pool = d.cfg.Site, name, w.p.Pool
		ps.Model, ps.Serial, ps.Ribbon = w.info.Model, w.info.Serial, w.info.Ribbon
		ps.Paused, ps.Printing = w.paused, w.printing
		if ps.Paused {
			ps.Ready = false
		}
		if ps.Updated.IsZero() {
			ps.RibbonLeft = -1 // not read yet
		}
		w.smu.Unlock()
		out = append(out, ps)
	}
	return out
}

// poolOf returns a printer's pool ("" for a printer this daemon does not
// run).
func (d *Daemon) poolOf(printer string) string {
	if w, ok := d.workers[printer]; ok {
		return w.p.Pool
	}
	return ""
}
