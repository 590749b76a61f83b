// Package sample makes deterministic sample card jobs for the demo and for
// tests of queue and cmd/printerd, from the invented people and drawn
// photos of internal/sample. A sample job is a plain card job (the v1 JSON,
// Body); Sealed and SealedFor make the v2 body that travels, its person
// sealed to daemons' epoch keys, as enrollment does.
//
// Nothing here is a real person or a real face. The same (n, today) always
// gives the same jobs, byte for byte, so fixtures can be regenerated and
// compared. The files under testdata/jobs and testdata/photos at the module
// root are written from this package (go test ./queue/job/sample -update).
package sample
