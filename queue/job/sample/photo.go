package sample

import isample "github.com/cityid/printerd/internal/sample"

// Photo returns sample photo i (internal/sample.Photo): a cartoon head and
// shoulders, 300x400 pixels, PNG for even i and JPEG for odd i.
func Photo(i int) []byte { return isample.Photo(i) }

// PhotoIsPNG reports whether Photo(i) is a PNG (otherwise it is a JPEG).
func PhotoIsPNG(i int) bool { return isample.PhotoIsPNG(i) }

// HugePNGHeader returns a PNG header claiming w x h pixels
// (internal/sample.HugePNGHeader).
func HugePNGHeader(w, h uint32) []byte { return isample.HugePNGHeader(w, h) }

// HugeJPEGHeader returns a JPEG header claiming w x h pixels
// (internal/sample.HugeJPEGHeader).
func HugeJPEGHeader(w, h uint16) []byte { return isample.HugeJPEGHeader(w, h) }

// Truncated returns the first half of b (internal/sample.Truncated).
func Truncated(b []byte) []byte { return isample.Truncated(b) }
