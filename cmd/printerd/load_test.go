package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/cityid/printerd/daemon"
	"net/url"
	"os"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// loadOptions describe one load run.
type loadOptions struct {
	Printers    int
	Jobs        int
	Speed       float64       // simulator speed (0: no mechanical delay)
	PreRendered bool          // a Maker that returns one pre-rendered card: daemon overhead only
	Interval    time.Duration // 0: publish every job at once; else one job per Interval
	// Null replaces the Evolis driver and simulator by a printer that
	// takes PrintTime per card and does nothing else: the daemon alone.
	Null      bool
	PrintTime time.Duration
}

// nullPrinter is always ready and "prints" by waiting.
type nullPrinter struct {
	drivers.Printer
	d time.Duration
}

func (p nullPrinter) Status(context.Context) (drivers.Status, error) {
	return drivers.Status{Ready: true, RibbonLeft: -1}, nil
}

func (p nullPrinter) Probe(context.Context) (drivers.Snapshot, error) {
	return drivers.Snapshot{Serial: "NULL", Rejected: -1, Card: drivers.CardNone}, nil
}

func (p nullPrinter) Print(ctx context.Context, _ card.Card) error {
	if p.d > 0 {
		select {
		case <-time.After(p.d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// loadResult is what a load run measured.
type loadResult struct {
	Elapsed     time.Duration // first publish to last printed
	CardsPerSec float64
	P50, P99    time.Duration // publish to printed event
	PeakHeapMB  float64       // max HeapInuse sampled every 10 ms
	MaxRSSMB    float64       // getrusage ru_maxrss of the process (daemon, nats-server, simulators, harness)
	// IdleWaiting is, per printer, the fraction of time between its first
	// card's start and its last card's end that it stood idle while jobs
	// were still waiting in the stream; the mean and worst over printers.
	IdleMean, IdleMax float64
	// GapMean is the mean time between a printer finishing a card and
	// starting the next while jobs were waiting.
	GapMean time.Duration
}

// timedPrinter records when each Print ran.
type timedPrinter struct {
	drivers.Printer
	mu    sync.Mutex
	spans [][2]time.Time
}

func (p *timedPrinter) Print(ctx context.Context, c card.Card) error {
	start := time.Now()
	err := p.Printer.Print(ctx, c)
	p.mu.Lock()
	p.spans = append(p.spans, [2]time.Time{start, time.Now()})
	p.mu.Unlock()
	return err
}

// preRendered renders one card once and hands out copies labelled with
// the job id.
func preRendered(tb testing.TB, issuerKey string) queue.Maker {
	key, err := keyfile.LoadPrivate(issuerKey)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := layout.New(layout.Options{Issuer: key})
	if err != nil {
		tb.Fatal(err)
	}
	j := sample.Jobs(1, time.Now())[0]
	m := &layoutMaker{r: r}
	pre, err := m.Make(context.Background(), j, "")
	if err != nil {
		tb.Fatal(err)
	}
	return queue.MakerFunc(func(_ context.Context, j *job.Job, _ card.Ribbon) (card.Card, error) {
		c := pre
		c.Label = j.ID
		return c, nil
	})
}

// runLoad runs the daemon in-process with o.Printers simulated printers,
// publishes o.Jobs signed jobs and measures until all are printed.
func runLoad(tb testing.TB, o loadOptions) loadResult {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	f := newE2EFixture(tb)
	var uris []string
	names := map[string]string{}
	for i := range o.Printers {
		u := simURI(tb, fmt.Sprintf("p%02d", i), "", url.Values{"speed": {fmt.Sprint(o.Speed)}})
		uris = append(uris, u)
		pu, _ := url.Parse(u)
		names[pu.Query().Get("name")] = pu.Host
	}
	cfg := f.config(uris...)
	cfg.HTTP = ""
	cfg.AckWait = daemon.Duration(30 * time.Second)
	var mu sync.Mutex
	timed := map[string]*timedPrinter{}
	sims := &sim.Registry{}
	deps := daemonDeps{sims: sims, wrap: func(name string, p drivers.Printer) drivers.Printer {
		if o.Null {
			p = nullPrinter{Printer: p, d: o.PrintTime}
		}
		tp := &timedPrinter{Printer: p}
		mu.Lock()
		timed[name] = tp
		mu.Unlock()
		return tp
	}}
	if o.PreRendered {
		deps.maker = preRendered(tb, f.issuerKey)
	}
	p := startInProcess(tb, cfg, deps)
	for _, dev := range names {
		if d := sims.Lookup(dev); d != nil {
			d.SetFeeder(1 << 20)
			d.SetRibbon(1 << 20)
		}
	}
	nc, js := f.connect(tb, p.d.NATSURL(), "inspector")

	jobs := sample.Jobs(o.Jobs, time.Now())
	msgs := make([]*nats.Msg, len(jobs))
	for i, j := range jobs {
		msgs[i] = signed(queue.JobsSubject("local", "default"), j.ID, f.sealed(context.Background(), tb, js, "local", "default", j), f.approver)
	}
	published := make(map[string]time.Time, len(jobs))
	printed := make(map[string]time.Time, len(jobs))
	var pmu sync.Mutex
	var lastPublish time.Time
	all := make(chan struct{})
	sub, err := nc.Subscribe("cards.events.>", func(m *nats.Msg) {
		now := time.Now()
		var ev queue.Event
		if json.Unmarshal(m.Data, &ev) != nil {
			return
		}
		if ev.State == queue.EventRejected || ev.State == queue.EventHeld {
			tb.Errorf("job %s %s: %s", ev.JobID, ev.State, ev.Reason)
		}
		if ev.State != queue.EventPrinted {
			return
		}
		pmu.Lock()
		printed[ev.JobID] = now
		if len(printed) == len(jobs) {
			close(all)
		}
		pmu.Unlock()
	})
	if err != nil {
		tb.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()

	var peakHeap uint64
	stopSample := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap {
				peakHeap = ms.HeapInuse
			}
			select {
			case <-t.C:
			case <-stopSample:
				return
			}
		}
	}()

	start := time.Now()
	var futures []jetstream.PubAckFuture
	for i, m := range msgs {
		pmu.Lock()
		published[jobs[i].ID] = time.Now()
		pmu.Unlock()
		if o.Interval > 0 {
			if _, err := js.PublishMsg(ctx, m); err != nil {
				tb.Fatal(err)
			}
			time.Sleep(o.Interval)
			continue
		}
		fut, err := js.PublishMsgAsync(m)
		if err != nil {
			tb.Fatal(err)
		}
		futures = append(futures, fut)
	}
	for _, fut := range futures {
		select {
		case <-fut.Ok():
		case err := <-fut.Err():
			tb.Fatal(err)
		}
	}
	lastPublish = time.Now()
	select {
	case <-all:
	case <-ctx.Done():
		tb.Fatalf("only %d of %d printed", len(printed), len(jobs))
	}
	close(stopSample)
	<-sampled
	var res loadResult
	pmu.Lock()
	var lat []time.Duration
	var last time.Time
	for id, t := range printed {
		lat = append(lat, t.Sub(published[id]))
		if t.After(last) {
			last = t
		}
	}
	pmu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.Elapsed = last.Sub(start)
	res.CardsPerSec = float64(len(lat)) / res.Elapsed.Seconds()
	res.P50 = lat[len(lat)/2]
	res.P99 = lat[(len(lat)*99)/100-boolInt(len(lat)%100 == 0)]
	res.PeakHeapMB = float64(peakHeap) / (1 << 20)
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		res.MaxRSSMB = float64(ru.Maxrss) / 1024
	}
	// Idle while waiting: the gaps between one card's end and the next
	// card's start on a printer, counted while jobs were still queued
	// (before the last job was handed to any printer).
	var lastStart time.Time
	mu.Lock()
	for _, tp := range timed {
		for _, s := range tp.spans {
			if s[0].After(lastStart) {
				lastStart = s[0]
			}
		}
	}
	var idleSum float64
	var gapSum time.Duration
	gaps := 0
	n := 0
	for _, tp := range timed {
		if len(tp.spans) < 2 {
			continue
		}
		sp := tp.spans
		sort.Slice(sp, func(i, j int) bool { return sp[i][0].Before(sp[j][0]) })
		var idle, total time.Duration
		for i := 1; i < len(sp) && !sp[i][0].After(lastStart); i++ {
			gap := sp[i][0].Sub(sp[i-1][1])
			idle += gap
			total += sp[i][0].Sub(sp[i-1][0])
			gapSum += gap
			gaps++
		}
		if total > 0 {
			frac := idle.Seconds() / total.Seconds()
			idleSum += frac
			n++
			if frac > res.IdleMax {
				res.IdleMax = frac
			}
		}
	}
	mu.Unlock()
	if n > 0 {
		res.IdleMean = idleSum / float64(n)
	}
	if gaps > 0 {
		res.GapMean = gapSum / time.Duration(gaps)
	}
	_ = lastPublish
	return res
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (r loadResult) report(b *testing.B, o loadOptions) {
	b.ReportMetric(r.CardsPerSec, "cards/s")
	b.ReportMetric(float64(r.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.P99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(r.PeakHeapMB, "peak-heap-MB")
	b.ReportMetric(r.MaxRSSMB, "maxrss-MB")
	if o.Interval == 0 && (o.PrintTime > 0 || !o.Null) {
		// Idle time means something only while jobs wait for a printer
		// that takes time to print.
		b.ReportMetric(r.IdleMean*100, "idle-%")
		b.ReportMetric(r.IdleMax*100, "idle-max-%")
		b.ReportMetric(float64(r.GapMean.Microseconds())/1000, "gap-ms")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkLoad is the load harness. Run it with
//
//	go test ./cmd/printerd -run '^$' -bench Load -benchtime 1x
//
// Scenarios (see BENCHMARKS.md):
//
//	daemon/...:  pre-rendered card, null printer (ready, prints instantly or
//	             in a fixed time): NATS, JetStream, ledger, audit, events
//	             and the worker loop only.
//	full/...:    layout renders every card, the Evolis driver encodes it and
//	             an in-process simulator at speed 0 decodes it.
//
// throughput: every job published at once; latency: one job every 25 ms
// (500 ms for full), so a printer is free; idle: printers that take 500 ms
// a card (full: the simulator at speed 0.25, 4 s a card), jobs queued.
func BenchmarkLoad(b *testing.B) {
	for _, sc := range []struct {
		name string
		o    loadOptions
	}{
		{"daemon/throughput", loadOptions{Printers: 16, Jobs: 2000, PreRendered: true, Null: true}},
		{"daemon/latency", loadOptions{Printers: 4, Jobs: 200, PreRendered: true, Null: true, Interval: 25 * time.Millisecond}},
		{"daemon/idle", loadOptions{Printers: 4, Jobs: 40, PreRendered: true, Null: true, PrintTime: 500 * time.Millisecond}},
		{"render/idle", loadOptions{Printers: 4, Jobs: 40, Null: true, PrintTime: 500 * time.Millisecond}},
		{"full/throughput", loadOptions{Printers: 4, Jobs: 60}},
		{"full/latency", loadOptions{Printers: 4, Jobs: 40, Interval: 500 * time.Millisecond}},
		{"full/idle", loadOptions{Printers: 2, Jobs: 10, Speed: 0.25}}, // about 8 s a two-sided card
		{"full/real", loadOptions{Printers: 2, Jobs: 6, Speed: 1}},     // about 32 s a card: set PRINTERD_LOAD_REAL=1
	} {
		b.Run(sc.name, func(b *testing.B) {
			if sc.o.Speed >= 1 && os.Getenv("PRINTERD_LOAD_REAL") == "" {
				b.Skip("real printer pace takes minutes: set PRINTERD_LOAD_REAL=1 to run it")
			}
			for range b.N {
				r := runLoad(b, sc.o)
				r.report(b, sc.o)
				b.Logf("%+v", r)
			}
		})
	}
}

// TestLoadHarness runs the harness small, so that it stays working.
func TestLoadHarness(t *testing.T) {
	r := runLoad(t, loadOptions{Printers: 2, Jobs: 10, PreRendered: true, Null: true})
	if r.CardsPerSec <= 0 || r.P99 < r.P50 || r.PeakHeapMB <= 0 {
		t.Errorf("implausible result %+v", r)
	}
}
