// Package rulecases loads the tables of inputs that a service's validation
// and the dashboard's form schemas (dashboard/src/lib/rules) must judge
// alike: each case is accepted, or refused naming the same field and reason.
//
// A table is a JSON file in the service's testdata:
//
//	{"about": "...", "cases": [
//	  {"name": "name of 129 characters", "op": "register",
//	   "input": {"name": {"$repeat": "x", "$times": 129}},
//	   "field": "agent.name", "reason": "FIELD_TOO_LONG"},
//	  {"name": "a plain agent", "op": "register", "input": {"name": "bot"}}
//	]}
//
// A case without a field is accepted. Field and reason are what the API
// returns (google.rpc.BadRequest's field and reason). So that limits can be
// written at their boundary without kilobytes of literal text, any value in
// an input may be an expansion, which the dashboard's runner
// (dashboard/src/test/rule-cases.ts) expands the same way:
//
//	{"$repeat": "é", "$times": 128}         "éé…é"
//	{"$concat": ["\ufeff", {"$repeat": …}]}  the parts joined
//	{"$list": "s", "$count": 65}            ["s00", "s01", …, "s64"]
//	{"$map": "k", "$count": 16, "$value": v} {"k00": v, …, "k15": v}
//
// Numbers in $list and $map keys are zero-padded to the width of count-1.
package rulecases

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/libs/apierror"
)

// Case is one input and the verdict the API gives it.
type Case struct {
	Name string `json:"name"`
	// Op names the operation the input is for ("register", "rotate", ...);
	// each table's runners map it to a service call and a schema.
	Op    string          `json:"op"`
	Input json.RawMessage `json:"input"`
	// Field and Reason are empty for an accepted input.
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
}

type table struct {
	About string `json:"about"`
	Cases []Case `json:"cases"`
}

// Load reads the table at path, with every input expanded.
func Load(t testing.TB, path string) []Case {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tab table
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tab); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(tab.Cases) == 0 {
		t.Fatalf("%s holds no cases", path)
	}
	seen := map[string]bool{}
	for i, c := range tab.Cases {
		if c.Name == "" || c.Op == "" || (c.Field == "") != (c.Reason == "") {
			t.Fatalf("%s: case %d needs a name, an op, and a field with its reason or neither", path, i)
		}
		if seen[c.Op+"/"+c.Name] {
			t.Fatalf("%s: two %s cases named %q", path, c.Op, c.Name)
		}
		seen[c.Op+"/"+c.Name] = true
		var v any
		if err := json.Unmarshal(c.Input, &v); err != nil {
			t.Fatalf("%s: %s: %v", path, c.Name, err)
		}
		v, err := Expand(v)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, c.Name, err)
		}
		if tab.Cases[i].Input, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	return tab.Cases
}

// Decode unmarshals the case's input into v, refusing names v does not
// have (a misspelt field in a table must not pass as an accepted input).
func (c Case) Decode(t testing.TB, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(c.Input))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: input: %v", c.Name, err)
	}
}

// Check fails t unless err is the case's verdict: for an accepted input,
// passed (the error a runner's stand-in store returns once validation let
// the call through); otherwise an InvalidArgument naming Field and Reason.
func (c Case) Check(t testing.TB, err, passed error) {
	t.Helper()
	if c.Field == "" {
		if !errors.Is(err, passed) {
			t.Errorf("%s %q: refused (%v), want accepted", c.Op, c.Name, err)
		}
		return
	}
	e := apierror.As(err)
	if e == nil || e.Kind != apierror.InvalidArgument || e.Field != c.Field || e.Reason != c.Reason {
		t.Errorf("%s %q: got %v, want %s on %s", c.Op, c.Name, describe(err), c.Reason, c.Field)
	}
}

func describe(err error) string {
	if e := apierror.As(err); e != nil {
		return fmt.Sprintf("%s on %q (%s)", e.Reason, e.Field, e.Message)
	}
	return fmt.Sprint(err)
}

// Expand replaces the expansions in a decoded JSON value.
func Expand(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			var err error
			if out[i], err = Expand(x); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		if op, ok := expansion(v); ok {
			return expandOp(op, v)
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			var err error
			if out[k], err = Expand(x); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

func expansion(m map[string]any) (string, bool) {
	for _, op := range []string{"$repeat", "$concat", "$list", "$map"} {
		if _, ok := m[op]; ok {
			return op, true
		}
	}
	for k := range m {
		if strings.HasPrefix(k, "$") {
			return k, true
		}
	}
	return "", false
}

func expandOp(op string, m map[string]any) (any, error) {
	count := func(key string) (int, error) {
		n, ok := m[key].(float64)
		if !ok || n < 0 || n != float64(int(n)) {
			return 0, fmt.Errorf("%s needs a whole %s", op, key)
		}
		return int(n), nil
	}
	str := func(key string) (string, error) {
		x, err := Expand(m[key])
		if s, ok := x.(string); ok && err == nil {
			return s, nil
		}
		return "", fmt.Errorf("%s needs a string %s", op, key)
	}
	keys := func(want ...string) error {
		if len(m) != len(want) {
			return fmt.Errorf("%s takes exactly %v", op, want)
		}
		for _, k := range want {
			if _, ok := m[k]; !ok {
				return fmt.Errorf("%s takes exactly %v", op, want)
			}
		}
		return nil
	}
	switch op {
	case "$repeat":
		if err := keys("$repeat", "$times"); err != nil {
			return nil, err
		}
		s, err := str("$repeat")
		if err != nil {
			return nil, err
		}
		n, err := count("$times")
		if err != nil {
			return nil, err
		}
		return strings.Repeat(s, n), nil
	case "$concat":
		if err := keys("$concat"); err != nil {
			return nil, err
		}
		parts, ok := m["$concat"].([]any)
		if !ok {
			return nil, errors.New("$concat needs a list")
		}
		var b strings.Builder
		for _, p := range parts {
			x, err := Expand(p)
			s, ok := x.(string)
			if err != nil || !ok {
				return nil, errors.New("$concat joins strings only")
			}
			b.WriteString(s)
		}
		return b.String(), nil
	case "$list", "$map":
		want := []string{op, "$count"}
		if op == "$map" {
			want = append(want, "$value")
		}
		if err := keys(want...); err != nil {
			return nil, err
		}
		prefix, err := str(op)
		if err != nil {
			return nil, err
		}
		n, err := count("$count")
		if err != nil {
			return nil, err
		}
		names := numbered(prefix, n)
		if op == "$list" {
			out := make([]any, n)
			for i, s := range names {
				out[i] = s
			}
			return out, nil
		}
		value, err := Expand(m["$value"])
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, n)
		for _, s := range names {
			out[s] = value
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown expansion %s", op)
}

// numbered returns prefix+"0" … prefix+(n-1), zero-padded to one width.
func numbered(prefix string, n int) []string {
	width := len(strconv.Itoa(max(n-1, 0)))
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%0*d", prefix, width, i)
	}
	return out
}
