package service

import (
	"errors"
	"testing"

	"github.com/cityid/printerd/queue"
)

// FuzzRequest feeds arbitrary request bodies to the decoder: it never
// panics, and a body it refuses is a bad request.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{"", "{}", `{"job_id":"x"}`, `{"arg":"1"}`, `{"nope":1}`, "[", "null"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var jr JobsRequest
		if err := decodeRequest(data, &jr); err != nil && codeOf(err) != CodeBadRequest {
			t.Fatalf("refused body %q is %s, want bad-request", data, codeOf(err))
		}
		var dr DiagRequest
		_ = decodeRequest(data, &dr)
	})
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		code string
	}{
		{&badRequest{"x"}, CodeBadRequest},
		{queue.ErrNotFound, CodeNotFound},
		{queue.ErrUnknownPrinter, CodeNotFound},
		{queue.ErrConflict, CodeConflict},
		{errShuttingDown, CodeUnavailable},
		{errors.New("drivers: print: card-jam"), CodeFailed},
	}
	for _, tc := range tests {
		if got := codeOf(tc.err); got != tc.code {
			t.Errorf("codeOf(%v) = %s, want %s", tc.err, got, tc.code)
		}
		if e := (&Error{Code: tc.code}); errors.Is(e, queue.ErrNotFound) != (tc.code == CodeNotFound) {
			t.Errorf("Error{%s} matches ErrNotFound wrongly", tc.code)
		}
	}
}
