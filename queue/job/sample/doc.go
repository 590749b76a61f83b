// Package sample makes deterministic sample card jobs for the demo and for
// tests: obviously invented people (long, accented and combining-mark names,
// several self-designated genders) with cartoon photos drawn by code.
//
// Nothing here is a real person or a real face. The same (n, today) always
// gives the same jobs, byte for byte, so fixtures can be regenerated and
// compared. The files under testdata/jobs and testdata/photos at the module
// root are written from this package (go test ./queue/job/sample -update).
package sample
