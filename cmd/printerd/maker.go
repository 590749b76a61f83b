package main

import (
	"context"

	"github.com/cityid/printerd/layout"
	"github.com/cityid/printerd/layout/panel"
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
func (m *layoutMaker) Make(ctx context.Context, j *job.Job) (panel.Card, error) {
	photo, err := j.Card.PhotoBytes()
	if err != nil {
		return panel.Card{}, err
	}
	c, err := m.r.Render(ctx, j.Template, layout.Fields{
		Number:  j.Card.Number,
		Issue:   j.Card.Issue,
		Name:    j.Card.Name,
		DOB:     j.Card.DOB,
		Gender:  j.Card.Gender,
		Issued:  j.Card.Issued,
		Expires: j.Card.Expires,
		Photo:   photo,
	})
	if err != nil {
		return panel.Card{}, err
	}
	if m.onCard != nil {
		m.onCard(j.ID, c)
	}
	card := c.Panels
	card.Label = j.ID
	return card, nil
}
