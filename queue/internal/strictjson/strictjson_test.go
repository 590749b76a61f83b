package strictjson

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	s := Schema{"a": nil, "o": {"x": nil}, "l": {"k": nil}}
	for _, tc := range []struct {
		raw, field, rule string
	}{
		{`{"a":1,"o":{"x":[1,{"y":2}]},"l":[{"k":1},{"k":"2"}]}`, "", ""}, // nested values of scalar members are not walked
		{`{}`, "", ""},
		{`{"o":5,"l":"x"}`, "", ""}, // types are the decoder's business
		{`[]`, "doc", RuleObject},
		{`"x"`, "doc", RuleObject},
		{`{"b":1}`, "doc", RuleUnknown},
		{`{"A":1}`, "a", RuleCase},
		{`{"a":1,"a":2}`, "a", RuleDuplicate},
		{`{"o":{"x":1,"z":2}}`, "o", RuleUnknown},
		{`{"o":{"X":1}}`, "o.x", RuleCase},
		{`{"l":[{"k":1},{"k":1,"k":2}]}`, "l[1].k", RuleDuplicate},
		{`{"l":[{"k":1},{"q":1}]}`, "l[1]", RuleUnknown},
		{`{"a":1`, "doc", RuleSyntax + " (cut short)"},
		{`{"a" 1}`, "doc", RuleSyntax + " (syntax error at byte 5)"},
		{``, "doc", RuleSyntax + " (cut short)"},
	} {
		err := Check([]byte(tc.raw), "doc", s)
		if tc.rule == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.raw, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Field != tc.field || e.Rule != tc.rule {
			t.Errorf("%s: err %v, want %s: %s", tc.raw, err, tc.field, tc.rule)
		}
	}
}
