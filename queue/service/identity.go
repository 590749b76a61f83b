package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Header names of the identity of a request.
const (
	// HeaderRequestInfo is set by nats-server on a request that crossed a
	// service import with share: the requester's account and user (its
	// nkey), attested by the server. A client cannot forge it: the server
	// replaces any value the client sent.
	HeaderRequestInfo = "Nats-Request-Info"
	// HeaderOnBehalfOf names the signed-in person a console acts for. It is
	// honoured only on requests the server attests come from a console
	// user; anyone else sending it is refused.
	HeaderOnBehalfOf = "Printerd-On-Behalf-Of"
)

// Accounts of the requesters (queue/embedded's account model).
const (
	AccountClerk      = "CLERK"
	AccountTechnician = "TECHNICIAN"
	AccountConsole    = "CONSOLE"
)

// Requester is who sent a request, as the server attests it.
type Requester struct {
	Account string // the requester's account: CLERK, TECHNICIAN or CONSOLE
	User    string // the requester's nkey (public)
	Name    string // the user's name in the users file, or the nkey
	// OnBehalfOf is the signed-in person a console user acts for ("" for
	// a clerk or technician acting as itself).
	OnBehalfOf string
}

// Operator is what the audit records: "alice", or "alice via console-1"
// for a person signed in to the console.
func (r Requester) Operator() string {
	if r.OnBehalfOf != "" {
		return r.OnBehalfOf + " via " + r.Name
	}
	return r.Name
}

// ErrForbidden is matched by the errors for a request without an attested
// identity, or from an account that may not use the verb.
var ErrForbidden = errors.New("forbidden")

// anonymous is the operator of requests on a server without
// authentication (--insecure-no-auth).
const anonymous = "unauthenticated"

// requester reads the identity of a request from its headers. lookup maps
// an nkey to a user name (false if unknown). allowAnon accepts a request
// without Nats-Request-Info (a server without authentication).
func requester(h map[string][]string, lookup func(nkey string) (string, bool), allowAnon bool) (Requester, error) {
	info := first(h, HeaderRequestInfo)
	behalf := first(h, HeaderOnBehalfOf)
	if info == "" {
		if !allowAnon {
			return Requester{}, fmt.Errorf("service: the request carries no identity attested by the server: connect as a clerk, technician or console user (printerd users add): %w", ErrForbidden)
		}
		if behalf != "" {
			return Requester{}, fmt.Errorf("service: %s: only a console user may name a person: %w", HeaderOnBehalfOf, ErrForbidden)
		}
		return Requester{Name: anonymous}, nil
	}
	var ci struct {
		Account string `json:"acc"`
		User    string `json:"user"`
	}
	if err := json.Unmarshal([]byte(info), &ci); err != nil || ci.Account == "" || ci.User == "" {
		return Requester{}, fmt.Errorf("service: %s: no account and user: %w", HeaderRequestInfo, ErrForbidden)
	}
	r := Requester{Account: ci.Account, User: ci.User, Name: ci.User}
	switch ci.Account {
	case AccountClerk, AccountTechnician, AccountConsole:
	default:
		return Requester{}, fmt.Errorf("service: requests from account %s are not served: %w", ci.Account, ErrForbidden)
	}
	if lookup != nil {
		if name, ok := lookup(ci.User); ok {
			r.Name = name
		}
	}
	if behalf != "" {
		if ci.Account != AccountConsole {
			return Requester{}, fmt.Errorf("service: %s: only a console user may name a person: %w", HeaderOnBehalfOf, ErrForbidden)
		}
		if !validPerson(behalf) {
			return Requester{}, &badRequest{"service: " + HeaderOnBehalfOf + ": must be 1-64 letters, digits, '.', '@', '-' or '_'"}
		}
		r.OnBehalfOf = behalf
	}
	return r, nil
}

// may reports whether the requester's account may use a service (jobs or
// diag); the server's imports already enforce it, this is the daemon's
// own check.
func (r Requester) may(svc string) error {
	if r.Account == "" { // unauthenticated server
		return nil
	}
	ok := r.Account == AccountConsole || svc == JobsPrefix && r.Account == AccountClerk || svc == DiagPrefix && r.Account == AccountTechnician
	if !ok {
		return fmt.Errorf("service: account %s may not use %s: %w", r.Account, svc, ErrForbidden)
	}
	return nil
}

func first(h map[string][]string, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// validPerson: 1-64 letters, digits, '.', '@', '-', '_'.
func validPerson(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '@' || r == '-' || r == '_')
	})
}
