package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job"
)

// pageData is what every template gets.
type pageData struct {
	Title  string
	Active string // the nav entry of the page
	User   string
	Role   string
	CSRF   string
	Error  string
	Notice string
	Form   url.Values
	// Topics are the live topics that refresh the page's live part.
	Topics string

	Printers []printerView
	Pools    []poolView
	History  *historyView
	Reprints []Reprint
	Recent   []queue.Event

	ReleaseReasons, CancelReasons, ReprintReasons []string
	// SpoiledReasons are the release reasons of a job whose card was
	// spoiled.
	SpoiledReasons []string
}

// Can reports whether the signed-in person may take action (templates
// show only the controls they may use; the handlers check again).
func (d pageData) Can(action string) bool { return May(d.Role, action) }

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"short": func(id string) string {
		if len(id) > 8 {
			return id[:8]
		}
		return id
	},
	"ribbon": func(n int) string {
		if n < 0 {
			return "unknown"
		}
		return fmt.Sprintf("%d cards left", n)
	},
	"join": strings.Join,
	// jobForm is the data of a held job's release or cancel form.
	"jobForm": func(action, label, button, class, jobID string, reasons []string, csrf string) map[string]any {
		return map[string]any{"Action": action, "Label": label, "Button": button, "Class": class, "JobID": jobID, "Reasons": reasons, "CSRF": csrf}
	},
	"stateClass": func(s string) string { return "state-" + strings.ReplaceAll(s, " ", "-") },
}

// notices are the messages a redirect after an action names (?done=...).
var notices = map[string]string{
	"pause": "Printer paused: it finishes the card in it and takes no new job.", "resume": "Printer resumed.",
	"reset": "Printer reset.", "clean": "Cleaning cycle done.", "test-card": "Test card printed.",
	"release": "Job released: it prints again.", "cancel": "Job cancelled: its data is deleted.",
	"reprint": "Reprint requested from the enrollment system.",
}

// render executes a page; with ?partial=1 only its live part (for the
// live updates' fetch).
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, page string, d pageData) {
	if d.User == "" {
		if ss := sessionOf(r); ss.User != "" {
			d.User, d.Role, d.CSRF = ss.User, ss.Role, ss.CSRF
		}
	}
	if n := notices[r.URL.Query().Get("done")]; n != "" && d.Notice == "" && d.Error == "" {
		d.Notice = n
	}
	d.ReleaseReasons, d.CancelReasons, d.ReprintReasons = ReleaseReasons, CancelReasons, ReprintReasons
	d.SpoiledReasons = []string{queue.ReleaseSpoiledDestroyed}
	t := s.pages[page]
	name := "layout.html"
	if r.URL.Query().Get("partial") == "1" && t.Lookup("live") != nil {
		name = "live"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, d); err != nil {
		s.log.Error("console: template", "page", page, "err", err)
		http.Error(w, "console: page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

func (s *Server) getPrinters(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestCtx(r)
	defer cancel()
	d := pageData{Title: "Printers", Active: "printers", Topics: topicPrinters}
	ps, err := s.printers(ctx)
	if err != nil {
		d.Error = err.Error()
	}
	d.Printers = ps
	s.render(w, r, http.StatusOK, "printers", d)
}

// postPrinter runs a technician's action on a printer.
func (s *Server) postPrinter(w http.ResponseWriter, r *http.Request) {
	printer, action := r.PathValue("printer"), r.PathValue("action")
	if !slices.Contains([]string{ActPause, ActResume, ActReset, ActClean, ActTestCard}, action) || !queue.ValidToken(printer) {
		s.refuse(w, r, http.StatusNotFound, "No such printer action.")
		return
	}
	if !s.may(w, r, action, printer) {
		return
	}
	ctx, cancel := s.requestCtx(r)
	defer cancel()
	c := s.clientFor(r)
	var err error
	switch action {
	case ActPause:
		err = c.Pause(ctx, printer)
	case ActResume:
		err = c.Resume(ctx, printer)
	case ActReset:
		err = c.Reset(ctx, printer)
	case ActClean:
		err = c.Clean(ctx, printer)
	case ActTestCard:
		_, err = c.TestCard(ctx, printer, "")
	}
	s.done(w, r, action, "printer", printer, "/printers", err)
	s.info.forget(printer)
	s.hub.notify(topicPrinters)
}

// done logs an action as the person took it and redirects to the page
// (or shows the daemon's error there).
func (s *Server) done(w http.ResponseWriter, r *http.Request, action, kind, target, page string, err error) {
	ss := sessionOf(r)
	if err != nil {
		s.log.Warn("console: action failed", "person", ss.User, "console", s.cfg.Name, "action", action, kind, target, "err", err)
		s.refuse(w, r, http.StatusBadGateway, fmt.Sprintf("Could not %s: %s", actionText[action], errText(err)))
		return
	}
	s.log.Info("console: action", "person", ss.User, "console", s.cfg.Name, "action", action, kind, target)
	http.Redirect(w, r, page+"?done="+action, http.StatusSeeOther)
}

func (s *Server) getQueue(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestCtx(r)
	defer cancel()
	d := pageData{Title: "Queue", Active: "queue", Topics: topicQueue}
	pools, err := s.queueView(ctx, s.clientFor(r))
	if err != nil {
		d.Error = err.Error()
	}
	d.Pools = pools
	d.Recent = s.recent.list()
	s.render(w, r, http.StatusOK, "queue", d)
}

// postJob releases or cancels a held job with a reason code.
func (s *Server) postJob(w http.ResponseWriter, r *http.Request) {
	jobID, action := r.PathValue("job"), r.PathValue("action")
	if action != ActRelease && action != ActCancel {
		s.refuse(w, r, http.StatusNotFound, "No such job action.")
		return
	}
	if !job.ValidID(jobID) {
		s.refuse(w, r, http.StatusNotFound, "No such job.")
		return
	}
	if !s.may(w, r, action, jobID) {
		return
	}
	reason := r.PostFormValue("reason")
	codes := ReleaseReasons
	if action == ActCancel {
		codes = CancelReasons
	}
	if !slices.Contains(codes, reason) {
		s.refuse(w, r, http.StatusBadRequest, fmt.Sprintf("Choose a reason: one of %s.", strings.Join(codes, ", ")))
		return
	}
	ctx, cancel := s.requestCtx(r)
	defer cancel()
	c, person := s.clientFor(r), sessionOf(r).User
	var err error
	switch action {
	case ActRelease:
		_, err = c.Release(ctx, jobID, reason)
	case ActCancel:
		_, err = c.Cancel(ctx, jobID, reason)
	}
	if err == nil {
		s.log.Info("console: reason", "person", person, "action", action, "job", jobID, "reason", reason)
	}
	s.done(w, r, action, "job", jobID, "/queue", err)
	s.hub.notify(topicQueue)
}

func (s *Server) getHistory(w http.ResponseWriter, r *http.Request) {
	d := pageData{Title: "Card history", Active: "history", Form: url.Values{}}
	number := strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("card")))
	code := http.StatusOK
	if number != "" {
		d.Form.Set("card", number)
		if !validCardNumber(number) {
			d.Error, code = "A card number is 4 to 24 capital letters, digits or hyphens.", http.StatusBadRequest
		} else {
			ctx, cancel := s.requestCtx(r)
			defer cancel()
			h, err := s.history(ctx, s.clientFor(r), number)
			if err != nil {
				d.Error = err.Error()
			} else {
				d.History = &h
				d.Title = "Card " + number
			}
		}
	}
	s.render(w, r, code, "history", d)
}

func (s *Server) getReprints(w http.ResponseWriter, r *http.Request) {
	d := pageData{Title: "Reprints", Active: "reprints", Topics: topicReprints, Reprints: s.reprints.list(), Form: url.Values{}}
	s.render(w, r, http.StatusOK, "reprints", d)
}

func (s *Server) postReprint(w http.ResponseWriter, r *http.Request) {
	if !s.may(w, r, ActReprint, "") {
		return
	}
	number := strings.ToUpper(strings.TrimSpace(r.PostFormValue("card")))
	reason := r.PostFormValue("reason")
	d := pageData{Title: "Reprints", Active: "reprints", Topics: topicReprints, Form: url.Values{"card": {number}, "reason": {reason}}}
	switch {
	case !validCardNumber(number):
		d.Error = "A card number is 4 to 24 capital letters, digits or hyphens."
	case !slices.Contains(ReprintReasons, reason):
		d.Error = "Choose a reason: one of " + strings.Join(ReprintReasons, ", ") + "."
	}
	if d.Error != "" {
		d.Reprints = s.reprints.list()
		s.render(w, r, http.StatusBadRequest, "reprints", d)
		return
	}
	ctx, cancel := s.requestCtx(r)
	defer cancel()
	_, err := s.requestReprint(ctx, sessionOf(r).User, number, reason)
	s.done(w, r, ActReprint, "card", number, "/reprints", err)
	s.hub.notify(topicReprints)
}
