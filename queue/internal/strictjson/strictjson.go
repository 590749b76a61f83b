// Package strictjson checks the member names of a JSON document before
// encoding/json decodes it: encoding/json matches names without regard to
// case and lets a repeated member overwrite the first, so a document could
// mean one thing to printerd and another to a different parser.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Schema is the set of member names allowed in an object; a name whose
// value is an object (or an array of objects) maps to that object's
// Schema, other names map to nil.
type Schema map[string]Schema

// Error names the member (a path such as "recipients[1].kid", or the root
// name) and the rule it broke. It never quotes the document.
type Error struct {
	Field string
	Rule  string
}

func (e *Error) Error() string { return e.Field + ": " + e.Rule }

// Rules, as Error.Rule says them.
const (
	RuleObject    = "must be a JSON object"
	RuleUnknown   = "has an unknown field"
	RuleCase      = "is spelt with the wrong case; field names are lower-case"
	RuleDuplicate = "appears more than once"
	RuleSyntax    = "must be valid JSON"
)

// Check walks raw, which must be one JSON object, and refuses member names
// that the schema does not have, spelt with another case, or repeated.
// Arrays are walked with the same schema for each element; scalars are
// left to the decoder. root names the document in errors. Check does not
// look past the first value: the decoder checks for trailing data.
func Check(raw []byte, root string, want Schema) error {
	return check(json.NewDecoder(bytes.NewReader(raw)), root, "", want)
}

func check(dec *json.Decoder, root, path string, want Schema) error {
	where := path
	if where == "" {
		where = root
	}
	tok, err := dec.Token()
	if err != nil {
		return syntax(root, err)
	}
	d, ok := tok.(json.Delim)
	if path == "" && (!ok || d != '{') {
		return &Error{root, RuleObject}
	}
	if !ok {
		return nil // a scalar: its type is the decoder's business
	}
	switch d {
	case '[':
		for i := 0; dec.More(); i++ {
			if err := check(dec, root, fmt.Sprintf("%s[%d]", path, i), want); err != nil {
				return err
			}
		}
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return syntax(root, err)
			}
			key, _ := tok.(string)
			field := key
			if path != "" {
				field = path + "." + key
			}
			sub, known := want[key]
			switch {
			case known && seen[key]:
				return &Error{field, RuleDuplicate}
			case !known:
				for k := range want {
					if strings.EqualFold(k, key) {
						return &Error{strings.TrimSuffix(field, key) + k, RuleCase}
					}
				}
				return &Error{where, RuleUnknown} // the unknown name is never echoed
			}
			seen[key] = true
			if sub == nil {
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return syntax(root, err)
				}
				continue
			}
			if err := check(dec, root, field, sub); err != nil {
				return err
			}
		}
	default:
		return &Error{where, RuleSyntax}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return syntax(root, err)
	}
	return nil
}

func syntax(root string, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &Error{root, fmt.Sprintf("%s (syntax error at byte %d)", RuleSyntax, se.Offset)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{root, RuleSyntax + " (cut short)"}
	}
	return &Error{root, RuleSyntax}
}
