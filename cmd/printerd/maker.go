package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/cityid/printerd/daemon"
	"github.com/cityid/printerd/internal/keyfile"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/layout"
	"github.com/cityid/printerd/queue/job"
)

// layoutMaker is the queue.Maker of printerd run: it lays a validated job
// out with the layout package and returns the panels a driver prints,
// labelled with the job id (never personal data).
type layoutMaker struct {
	r *layout.Renderer
	// onCard, if set, sees every rendered card (the demo writes its proof
	// PDF). It must not log or keep personal data.
	onCard func(jobID string, c *layout.Card)
}

// Make implements queue.Maker.
func (m *layoutMaker) Make(ctx context.Context, j *job.Job, ribbon card.Ribbon) (card.Card, error) {
	f, err := fieldsOf(j)
	if err != nil {
		return card.Card{}, err
	}
	c, err := m.r.RenderFor(ctx, ribbon, j.Template, f)
	if err != nil {
		return card.Card{}, err
	}
	if m.onCard != nil {
		m.onCard(j.ID, c)
	}
	card := c.Panels
	card.Label = j.ID
	return card, nil
}

// fieldsOf turns a validated job into the fields layout/ prints. The
// photo is the one the job's validation decoded: it is not decoded again.
func fieldsOf(j *job.Job) (layout.Fields, error) {
	var photo []byte
	img := j.PhotoImage()
	if img == nil {
		var err error
		if photo, err = j.Card.PhotoBytes(); err != nil {
			return layout.Fields{}, err
		}
	}
	return layout.Fields{
		Number:     j.Card.Number,
		Issue:      j.Card.Issue,
		Name:       j.Card.Name,
		DOB:        j.Card.DOB,
		Gender:     j.Card.Gender,
		Issued:     j.Card.Issued,
		Expires:    j.Card.Expires,
		Photo:      photo,
		PhotoImage: img,
	}, nil
}

// cardFlags are the flags of the commands that lay out a job file
// without a daemon (render, encode).
type cardFlags struct {
	issuerKey, ribbon, template, templates, issuerCode *string
}

// addCardFlags defines the card flags on fs.
func addCardFlags(fs *flag.FlagSet) cardFlags {
	return cardFlags{
		issuerKey:  fs.String("issuer-key", "", "issuer private key that signs the barcode (PKCS#8 PEM, mode 0600)"),
		ribbon:     fs.String("ribbon", string(card.YMCKO), "ribbon the card is laid out for: ymcko, ymckok, ko or k"),
		template:   fs.String("template", "", "card template; default: the one the job names"),
		templates:  fs.String("templates", "", "directory of extra card templates (*.json)"),
		issuerCode: fs.String("issuer-code", "CITY", "issuer code signed into the barcode (iss)"),
	}
}

// renderJobFile reads and validates a job file, loads the issuer key and
// lays the card out as the card flags say (the job's own template unless
// --template names another). It returns the job, the card and the
// template used.
func (cf cardFlags) renderJobFile(ctx context.Context, path string) (*job.Job, *layout.Card, string, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, "", err
	}
	j, err := job.Parse(body)
	if err != nil {
		return nil, nil, "", err
	}
	f, err := fieldsOf(j)
	if err != nil {
		return nil, nil, "", err
	}
	key, err := keyfile.LoadPrivate(*cf.issuerKey)
	if err != nil {
		return nil, nil, "", err
	}
	r, err := layout.New(layout.Options{Issuer: key, IssuerCode: *cf.issuerCode, Templates: *cf.templates, Ribbon: card.Ribbon(*cf.ribbon)})
	if err != nil {
		return nil, nil, "", err
	}
	template := *cf.template
	if template == "" {
		template = j.Template
	}
	c, err := r.Render(ctx, template, f)
	if err != nil {
		return nil, nil, "", err
	}
	return j, c, template, nil
}

// newLayoutMaker loads the issuer key and templates of cfg and returns the
// daemon's maker; onCard, if set, sees every rendered card.
func newLayoutMaker(cfg daemon.Config, onCard func(jobID string, c *layout.Card)) (*layoutMaker, error) {
	issuer, err := keyfile.LoadPrivate(cfg.IssuerKey)
	if err != nil {
		return nil, fmt.Errorf("config: issuer-key: %w", err)
	}
	r, err := layout.New(layout.Options{Issuer: issuer, IssuerCode: cfg.IssuerCode, Templates: cfg.Templates})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &layoutMaker{r: r, onCard: onCard}, nil
}
