package service

import (
	"errors"
	"testing"
)

// FuzzRequester: any identity headers give a requester or an error, never
// a panic; a person is named only for a console account.
func FuzzRequester(f *testing.F) {
	f.Add(`{"acc":"CLERK","user":"UABC"}`, "")
	f.Add(`{"acc":"CONSOLE","user":"UABC"}`, "alice")
	f.Add(`{"acc":"PRINTERD","user":"UABC"}`, "")
	f.Add(`{`, "x y")
	f.Fuzz(func(t *testing.T, info, behalf string) {
		h := map[string][]string{}
		if info != "" {
			h[HeaderRequestInfo] = []string{info}
		}
		if behalf != "" {
			h[HeaderOnBehalfOf] = []string{behalf}
		}
		r, err := requester(h, nil, false)
		if err != nil {
			var br *badRequest
			if !errors.Is(err, ErrForbidden) && !errors.As(err, &br) {
				t.Fatalf("error neither forbidden nor bad request: %v", err)
			}
			return
		}
		if r.OnBehalfOf != "" && r.Account != AccountConsole {
			t.Fatalf("account %s named a person", r.Account)
		}
		if r.Account == "" || r.User == "" {
			t.Fatalf("a requester without account or user: %+v", r)
		}
	})
}
