package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue/internal/natstest"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// BenchmarkDaemon runs the whole queue path on a real nats-server (file
// store) with simulated Evolis printers at zero mechanical delay: signed
// jobs published, verified, parsed, claimed, printed through the driver,
// recorded, acknowledged. It reports cards/s and the publish-to-printed
// latency (event received) p50/p99.
//
// driver=sim is the real Evolis driver and simulator (their encoding and
// decoding cost included); driver=null is a printer that returns at once,
// to measure the queue's own overhead.
//
// Jobs are published as fast as possible (a burst: latency then includes
// the wait in the queue), or paced at rate jobs/s, where the latency is
// the daemon's own overhead per job.
func BenchmarkDaemon(b *testing.B) {
	for _, drv := range []string{"sim", "null"} {
		for _, printers := range []int{1, 8} {
			b.Run(fmt.Sprintf("driver=%s/printers=%d/burst", drv, printers), func(b *testing.B) { benchDaemon(b, drv, printers, 0) })
		}
	}
	for _, rate := range []float64{100, 200} {
		b.Run(fmt.Sprintf("driver=null/printers=8/rate=%g", rate), func(b *testing.B) { benchDaemon(b, "null", 8, rate) })
	}
}

// nullPrinter prints nothing, at once.
type nullPrinter struct{}

func (nullPrinter) Info(context.Context) (drivers.Info, error) {
	return drivers.Info{Serial: "NULL"}, nil
}
func (nullPrinter) Status(context.Context) (drivers.Status, error) {
	return drivers.Status{Ready: true, RibbonLeft: -1}, nil
}
func (nullPrinter) Counters(context.Context) (drivers.Counters, error) {
	return drivers.Counters{}, nil
}
func (nullPrinter) Print(context.Context, card.Card) error { return nil }
func (nullPrinter) Clean(context.Context) error            { return nil }
func (nullPrinter) Reset(context.Context) error            { return nil }
func (nullPrinter) Reject(context.Context) error           { return nil }
func (nullPrinter) Probe(context.Context) (drivers.Snapshot, error) {
	return drivers.Snapshot{Serial: "NULL", Rejected: -1, Card: drivers.CardNone}, nil
}

func benchDaemon(b *testing.B, drv string, printers int, rate float64) {
	srv := natstest.Start(b)
	sg := newSigner(b)
	cfg := Config{
		Site: "bench", JS: srv.JS, Approver: verifierFor(b, sg), Keys: testKeys(), Maker: blankMaker{},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		StatusInterval: time.Second, FetchWait: 200 * time.Millisecond,
	}
	for i := 0; i < printers; i++ {
		var dev drivers.Printer = nullPrinter{}
		if drv == "sim" {
			dev = newSimPrinter(b, fmt.Sprintf("%s-%d", b.Name(), i), 0).drv
		}
		cfg.Printers = append(cfg.Printers, Printer{Name: fmt.Sprintf("p%d", i), Dev: dev})
	}
	type sent struct {
		id   string
		body []byte
		sig  string
	}
	jobs := make([]sent, b.N)
	for i := range jobs {
		id, pj := newPlainJob(fmt.Sprintf("BENCH-%06d", i), 1, i)
		body := sample.SealedFor(pj, "bench", DefaultPool, time.Now(), testKeys())
		jobs[i] = sent{id, body, sg.sign(body)}
	}
	var mu sync.Mutex
	published := make(map[string]time.Time, b.N)
	var lat []time.Duration
	done := make(chan struct{})
	sub, err := srv.NC.Subscribe("cards.events.>", func(m *nats.Msg) {
		var ev Event
		if json.Unmarshal(m.Data, &ev) != nil || ev.State != EventPrinted {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if t0, ok := published[ev.JobID]; ok {
			lat = append(lat, time.Since(t0))
			if len(lat) == b.N {
				close(done)
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	ctx := natstest.Context(b, 10*time.Minute)
	d, err := Start(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.ResetTimer()
	start := time.Now()
	for i, j := range jobs {
		if rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
		}
		m := &nats.Msg{Subject: JobsSubject("bench", DefaultPool), Data: j.body, Header: nats.Header{}}
		m.Header.Set(job.HeaderMsgID, job.MsgID(j.id, j.sig))
		m.Header.Set(job.HeaderKey, sg.kid)
		m.Header.Set(job.HeaderSignature, j.sig)
		mu.Lock()
		published[j.id] = time.Now()
		mu.Unlock()
		if _, err := srv.JS.PublishMsg(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		b.Fatalf("only %d of %d printed", len(lat), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, k int) bool { return lat[i] < lat[k] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "cards/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	if testing.Verbose() {
		mfs, _ := d.Metrics().Registry.Gather()
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if h := m.GetHistogram(); h != nil && h.GetSampleCount() > 0 {
					b.Logf("%s %v: mean %.1f ms over %d", mf.GetName(), m.GetLabel()[0].GetValue(), 1000*h.GetSampleSum()/float64(h.GetSampleCount()), h.GetSampleCount())
				}
			}
		}
	}
}
