package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cityid/printerd/queue"
)

// Live topics: the parts of pages an event changes.
const (
	topicPrinters = "printers"
	topicQueue    = "queue"
	topicReprints = "reprints"
)

// hub fans topic notifications out to the live streams. A stream that has
// not taken a notification yet keeps one pending per topic (coalesced).
type hub struct {
	mu   sync.Mutex
	subs map[chan string]struct{}
}

func newHub() *hub { return &hub{subs: map[chan string]struct{}{}} }

func (h *hub) subscribe() (ch chan string, cancel func()) {
	ch = make(chan string, 8)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

func (h *hub) notify(topic string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- topic:
		default: // the stream is behind: it will refresh anyway
		}
	}
}

// onEvent turns a job event into live notifications and follows reprint
// requests.
func (s *Server) onEvent(m *nats.Msg) {
	var ev queue.Event
	if json.Unmarshal(m.Data, &ev) != nil {
		return
	}
	s.recent.add(ev)
	s.hub.notify(topicQueue)
	if ev.State == queue.EventPrinting || ev.State == queue.EventPrinted {
		s.hub.notify(topicPrinters)
	}
	if ev.CardNumber == "" || !s.reprints.waiting(ev.CardNumber) {
		return
	}
	// The event has no issue: ask the ledger, off the subscription's
	// goroutine.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		defer cancel()
		e, err := s.client.Status(ctx, ev.JobID)
		if err != nil {
			return
		}
		if s.reprints.update(ev.CardNumber, ev.JobID, e.Issue, ev.State, ev.At) {
			s.hub.notify(topicReprints)
		}
	}()
}

// getLive is the live-update stream (server-sent events): one "change"
// event naming a topic whenever something shown may have changed, and a
// comment every 15 s. Each write has its own deadline, so a browser that
// stops reading is dropped, not waited for.
func (s *Server) getLive(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	ch, cancel := s.hub.subscribe()
	defer cancel()
	write := func(format string, args ...any) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(s.cfg.LiveWriteTimeout)); err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write("retry: 2000\n: live\n\n") {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	// Coalesce bursts (a card printing changes several things at once).
	var pending = map[string]bool{}
	var flush <-chan time.Time
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		case t := <-ch:
			pending[t] = true
			if flush == nil {
				flush = time.After(200 * time.Millisecond)
			}
		case <-flush:
			flush = nil
			for t := range pending {
				if !write("event: change\ndata: %s\n\n", t) {
					return
				}
			}
			clear(pending)
		case <-ping.C:
			if !write(": ping\n\n") {
				return
			}
		}
	}
}

// recentJobs keeps the latest event of the last jobs seen, newest first,
// for the queue page's "recent activity".
type recentJobs struct {
	mu  sync.Mutex
	evs []queue.Event
}

const maxRecent = 20

func (r *recentJobs) add(ev queue.Event) {
	if ev.JobID == "" || ev.JobID == "invalid" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, e := range r.evs {
		if e.JobID == ev.JobID {
			r.evs = append(r.evs[:i], r.evs[i+1:]...)
			break
		}
	}
	r.evs = append([]queue.Event{ev}, r.evs...)
	if len(r.evs) > maxRecent {
		r.evs = r.evs[:maxRecent]
	}
}

func (r *recentJobs) list() []queue.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]queue.Event(nil), r.evs...)
}
