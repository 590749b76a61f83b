package job_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cityid/printerd/queue/epoch"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
	"github.com/cityid/printerd/queue/seal"
)

// daemonStore is one daemon's epoch key store in a temporary directory.
func daemonStore(t testing.TB) *epoch.Store {
	t.Helper()
	st, err := epoch.Open(epoch.Options{Dir: t.TempDir() + "/epoch"})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// personValues are encodings of j's personal values that must not be in
// a v2 body.
func personValues(j *job.Job) map[string][]byte {
	photo, _ := j.Card.PhotoBytes()
	return map[string][]byte{
		"name":          []byte(j.Card.Name),
		"name json":     jsonString(j.Card.Name),
		"dob":           []byte(j.Card.DOB),
		"photo base64":  []byte(j.Card.Photo[100:160]),
		"photo raw":     photo[64:128],
		"name base64":   []byte(base64.StdEncoding.EncodeToString([]byte(j.Card.Name))[4:24]),
		"gender-quoted": []byte(`"` + j.Card.Gender + `"`),
	}
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b[1 : len(b)-1]
}

func TestSealOpenRoundTrip(t *testing.T) {
	st := daemonStore(t)
	for _, j := range []*job.Job{validJob(), validReprint()} {
		body := sample.SealedFor(j, "town-hall", "front-desk", now, st)
		for what, v := range personValues(j) {
			if bytes.Contains(body, v) {
				t.Errorf("%s: v2 body holds the person's %s in the clear", j.Kind, what)
			}
		}
		e, err := job.ParseEnvelope(body)
		if err != nil {
			t.Fatalf("ParseEnvelope: %v", err)
		}
		if e.Site != "town-hall" || e.Pool != "front-desk" || e.ID != j.ID || e.Card.Number != j.Card.Number {
			t.Fatalf("clear fields: %+v", e.ClearFields())
		}
		if c := e.Clear(); c.Card.Name != "" || c.Card.Photo != "" || c.PhotoImage() != nil {
			t.Fatal("Clear holds personal data")
		}
		got, err := e.OpenAt(st, now)
		if err != nil {
			t.Fatalf("OpenAt: %v", err)
		}
		if got.Card.Name != j.Card.Name || got.Card.DOB != j.Card.DOB || got.Card.Gender != j.Card.Gender ||
			got.ID != j.ID || got.Card.Issue != j.Card.Issue || got.Template != j.Template {
			t.Fatalf("opened job differs: %#v", got)
		}
		if (got.Reprint == nil) != (j.Reprint == nil) || got.Reprint != nil && *got.Reprint != *j.Reprint {
			t.Fatal("reprint object differs")
		}
		img := got.PhotoImage()
		if img == nil || img.Bounds().Dx() < 100 {
			t.Fatal("opened job has no decoded photo")
		}
		got.Wipe()
		if got.Card.Name != "" || got.Card.DOB != "" || got.Card.Gender != "" || got.PhotoImage() != nil {
			t.Fatal("Wipe left personal fields")
		}
		r, g, b, _ := img.At(img.Bounds().Dx()/2, img.Bounds().Dy()/2).RGBA()
		if r|g|b != 0 {
			t.Fatal("Wipe left the photo's pixels")
		}
	}
}

// TestOpenRefuses: a key that is gone, another site's daemon, a sealed
// part moved from another job, a clear field changed after sealing.
func TestOpenRefuses(t *testing.T) {
	here, other := daemonStore(t), daemonStore(t)
	a, b := validJob(), sample.Jobs(2, now)[1]
	bodyA := sample.SealedFor(a, "town-hall", "front-desk", now, here)
	bodyB := sample.SealedFor(b, "town-hall", "front-desk", now, here)
	elsewhere := sample.SealedFor(a, "harbour", "front-desk", now, other)

	moved := func() []byte {
		var ma, mb map[string]json.RawMessage
		json.Unmarshal(bodyA, &ma)
		json.Unmarshal(bodyB, &mb)
		ma["sealed"] = mb["sealed"]
		out, _ := json.Marshal(ma)
		return out
	}()
	renumbered := bytes.Replace(bodyA, []byte(`"number":"`+a.Card.Number+`"`), []byte(`"number":"SAMPLE-999999"`), 1)
	resited := bytes.Replace(bodyA, []byte(`"site":"town-hall"`), []byte(`"site":"harbour"`), 1)

	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"another site's daemon", elsewhere, seal.ErrKeyGone},
		{"sealed part moved from another job", moved, seal.ErrBinding},
		{"card number changed", renumbered, seal.ErrBinding},
		{"site changed", resited, seal.ErrBinding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := job.ParseEnvelope(tt.body)
			if err != nil {
				t.Fatalf("ParseEnvelope: %v", err)
			}
			_, err = e.OpenAt(here, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("OpenAt: %v, want %v", err, tt.want)
			}
		})
	}

	t.Run("key destroyed", func(t *testing.T) {
		e, err := job.ParseEnvelope(bodyA)
		if err != nil {
			t.Fatal(err)
		}
		k, _ := here.Current(now)
		if err := here.Destroy(k.Epoch); err != nil {
			t.Fatal(err)
		}
		if _, err := e.OpenAt(here, now); !errors.Is(err, seal.ErrKeyGone) {
			t.Fatalf("OpenAt after Destroy: %v, want ErrKeyGone", err)
		}
	})
}

// TestParseEnvelopeRules: the strict parse and the clear rules.
func TestParseEnvelopeRules(t *testing.T) {
	st := daemonStore(t)
	good := sample.SealedFor(validJob(), "town-hall", "front-desk", now, st)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	card := func(m map[string]any) map[string]any { return m["card"].(map[string]any) }
	tests := []struct {
		name, field, rule string
		body              []byte
	}{
		{"v1", "v", job.RuleV2, edit(func(m map[string]any) { m["v"] = 1 })},
		{"v3", "v", job.RuleV2, edit(func(m map[string]any) { m["v"] = 3 })},
		{"plaintext name beside the seal", "card", job.RuleUnknown, edit(func(m map[string]any) { card(m)["name"] = "Someone" })},
		{"photo beside the seal", "card", job.RuleUnknown, edit(func(m map[string]any) { card(m)["photo"] = "AAAA" })},
		{"no sealed part", "sealed", job.RuleSealed, edit(func(m map[string]any) { delete(m, "sealed") })},
		{"site missing", "site", job.RuleToken, edit(func(m map[string]any) { delete(m, "site") })},
		{"site with a dot", "site", job.RuleToken, edit(func(m map[string]any) { m["site"] = "a.b" })},
		{"pool wildcard", "pool", job.RuleToken, edit(func(m map[string]any) { m["pool"] = "*" })},
		{"number", "card.number", job.RuleNumber, edit(func(m map[string]any) { card(m)["number"] = "x" })},
		{"expires", "card.expires", job.RuleExpires, edit(func(m map[string]any) { card(m)["expires"] = "2020-01-01" })},
		{"Site case", "site", job.RuleCase, bytes.Replace(good, []byte(`"site"`), []byte(`"Site"`), 1)},
		{"sealed suite", "sealed.suite.kdf", "must be 1", edit(func(m map[string]any) {
			m["sealed"].(map[string]any)["suite"].(map[string]any)["kdf"] = 2
		})},
		{"sealed unknown member", "sealed", "has an unknown field", edit(func(m map[string]any) { m["sealed"].(map[string]any)["name"] = "x" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := job.ParseEnvelope(tt.body)
			var fe *job.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseEnvelope: %v, want a FieldError", err)
			}
			if fe.Field != tt.field || !strings.HasPrefix(fe.Rule, tt.rule) {
				t.Fatalf("got %s: %s, want %s: %s", fe.Field, fe.Rule, tt.field, tt.rule)
			}
		})
	}
	if job.Version(good) != job.V2 || job.Version(sample.Body(validJob())) != job.V1 || job.Version([]byte("x")) != 0 {
		t.Fatal("Version")
	}
}

// TestOpenAppliesPersonRules: the v1 rules of name, dob, gender and photo
// apply to the opened person, named under sealed.
func TestOpenAppliesPersonRules(t *testing.T) {
	st := daemonStore(t)
	j := validJob()
	photo, _ := j.Card.PhotoBytes()
	tests := []struct {
		name, field string
		edit        func(p *seal.Person)
	}{
		{"dob in the future", "sealed.dob", func(p *seal.Person) { p.DOB = "2099-01-01" }},
		{"dob not a date", "sealed.dob", func(p *seal.Person) { p.DOB = "1990-02-30" }},
		{"name empty", "sealed.name", func(p *seal.Person) { p.Name = "" }},
		{"gender control", "sealed.gender", func(p *seal.Person) { p.Gender = "a\x07" }},
		{"photo empty", "sealed.photo", func(p *seal.Person) { p.Photo = nil }},
		{"photo not an image", "sealed.photo", func(p *seal.Person) { p.Photo = []byte("not an image at all") }},
		{"photo too big", "sealed.photo", func(p *seal.Person) {
			p.Photo = make([]byte, job.MaxPhotoBytes+1)
			copy(p.Photo, photo)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := job.ParseEnvelope(sample.SealedFor(j, "town-hall", "front-desk", now, st))
			if err != nil {
				t.Fatal(err)
			}
			// Re-seal what a careless enrollment system would send.
			p := seal.Person{Name: j.Card.Name, DOB: j.Card.DOB, Gender: j.Card.Gender, Photo: append([]byte(nil), photo...)}
			tt.edit(&p)
			if e.Sealed, err = seal.Seal(nil, p, e.ClearFields(), sample.Recipients(now, st)); err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(e)
			if e, err = job.ParseEnvelope(body); err != nil {
				t.Fatal(err)
			}
			_, err = e.OpenAt(st, now)
			var fe *job.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("OpenAt: %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
}
