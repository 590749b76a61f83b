// Package sample is the shared sample data of printerd's tests and demo:
// obviously invented people (long, accented and combining-mark names,
// several self-designated genders), cartoon photos drawn by code, the
// fields of their cards, and ready-made card faces (card.Card) stored as
// plane images under testdata/cards for the drivers' tests.
//
// Nothing here is a real person or a real face. It imports neither layout,
// drivers nor queue, so that each of them can use it in tests without
// importing another: queue/job/sample makes jobs of these people, layout's
// tests render them, and drivers' tests print the stored faces (which
// layout's tests write, go test ./layout -update).
package sample
