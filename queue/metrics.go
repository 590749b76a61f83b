package queue

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the daemon's Prometheus metrics, in their own registry so
// that the daemon can serve them (promhttp.HandlerFor(m.Registry, ...)).
// Labels are printer and pool names and outcome codes only.
type Metrics struct {
	Registry *prometheus.Registry
	// Cards counts cards by printer and outcome (printed, held, rejected, retried).
	Cards *prometheus.CounterVec
	// Rejected counts rejected jobs by rule code (approval, contract, msg-id, issue, layout).
	Rejected *prometheus.CounterVec
	// PrintSeconds is the time from the ledger going to printing until the
	// printer returned, by printer.
	PrintSeconds *prometheus.HistogramVec
	// JobSeconds is the daemon's time per job from fetch to ack, by printer.
	JobSeconds *prometheus.HistogramVec
	// QueueDepth is the jobs waiting per pool (the consumer's pending count).
	QueueDepth *prometheus.GaugeVec
	// PrinterReady is 1 while a printer is ready, 0 otherwise.
	PrinterReady *prometheus.GaugeVec
	// RibbonLeft is the cards a printer's ribbon can still print, as the
	// printer last said (absent while unknown).
	RibbonLeft *prometheus.GaugeVec
	// HeldJobs is the jobs held for a clerk, by pool.
	HeldJobs *prometheus.GaugeVec
	// QueueAge is the age of the oldest job no printer claimed yet, by
	// pool (0 when none waits).
	QueueAge *prometheus.GaugeVec
	// AuditChainOK is 1 while the daemon's audit chain is intact, 0 once it
	// found it missing, truncated or forked (the daemon then takes no job).
	AuditChainOK prometheus.Gauge
}

// NewMetrics returns metrics registered in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Cards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "printerd_cards_total", Help: "Jobs finished, by printer and outcome (printed, held, rejected, retried).",
		}, []string{"printer", "outcome"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "printerd_rejected_total", Help: "Rejected jobs by rule code.",
		}, []string{"rule"}),
		PrintSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "printerd_print_duration_seconds", Help: "Time the printer took to print a card.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}, []string{"printer"}),
		JobSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "printerd_job_duration_seconds", Help: "Time from fetching a job to acknowledging it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}, []string{"printer"}),
		QueueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "printerd_queue_depth", Help: "Jobs waiting in a pool.",
		}, []string{"pool"}),
		PrinterReady: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "printerd_printer_ready", Help: "1 while the printer is ready.",
		}, []string{"printer"}),
		RibbonLeft: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "printerd_ribbon_remaining_cards", Help: "Cards the printer's ribbon can still print, as the printer says.",
		}, []string{"printer"}),
		HeldJobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "printerd_held_jobs", Help: "Jobs held for a clerk, by pool.",
		}, []string{"pool"}),
		QueueAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "printerd_queue_oldest_job_age_seconds", Help: "Age of the oldest job no printer has claimed yet, by pool (0 when none waits).",
		}, []string{"pool"}),
		AuditChainOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "printerd_audit_chain_ok", Help: "1 while the daemon's audit chain is intact; 0: it takes no job.",
		}),
	}
	m.AuditChainOK.Set(1)
	m.Registry.MustRegister(m.Cards, m.Rejected, m.PrintSeconds, m.JobSeconds, m.QueueDepth, m.PrinterReady,
		m.RibbonLeft, m.HeldJobs, m.QueueAge, m.AuditChainOK)
	return m
}
