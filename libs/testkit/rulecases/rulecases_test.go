package rulecases

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sentryagent/agentidp/libs/apierror"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		name, in string
		want     any
		wantErr  bool
	}{
		{"plain values pass", `{"a": ["x", 1, true, null]}`, map[string]any{"a": []any{"x", 1.0, true, nil}}, false},
		{"repeat", `{"$repeat": "é", "$times": 3}`, "ééé", false},
		{"concat", `{"$concat": ["<", {"$repeat": "x", "$times": 2}, ">"]}`, "<xx>", false},
		{"list, padded", `{"$list": "s", "$count": 11}`, []any{"s00", "s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09", "s10"}, false},
		{"list of one", `{"$list": "s", "$count": 1}`, []any{"s0"}, false},
		{"map", `{"$map": "k", "$count": 2, "$value": {"$repeat": "v", "$times": 2}}`, map[string]any{"k0": "vv", "k1": "vv"}, false},
		{"nested", `{"m": {"x": {"$repeat": "a", "$times": 2}}}`, map[string]any{"m": map[string]any{"x": "aa"}}, false},
		{"unknown expansion", `{"$shout": "x"}`, nil, true},
		{"extra key", `{"$repeat": "x", "$times": 2, "y": 1}`, nil, true},
		{"fractional count", `{"$repeat": "x", "$times": 1.5}`, nil, true},
		{"concat of a list", `{"$concat": [["x"]]}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tt.in), &v); err != nil {
				t.Fatal(err)
			}
			got, err := Expand(v)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Expand = %v, want an error", got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Expand = %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

// recorder collects what Check reports instead of failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errors = append(r.errors, f) }

func TestCheck(t *testing.T) {
	passed := errors.New("passed validation")
	tooLong := apierror.New(apierror.InvalidArgument, "FIELD_TOO_LONG", "").WithField("agent.name")
	accept := Case{Name: "ok", Op: "register"}
	refuse := Case{Name: "long", Op: "register", Field: "agent.name", Reason: "FIELD_TOO_LONG"}
	tests := []struct {
		name string
		c    Case
		err  error
		ok   bool
	}{
		{"accepted as expected", accept, passed, true},
		{"refused, want accepted", accept, tooLong, false},
		{"refused as expected", refuse, tooLong, true},
		{"accepted, want refused", refuse, passed, false},
		{"another field", refuse, tooLong.WithField("agent.owner"), false},
		{"another reason", refuse, apierror.New(apierror.InvalidArgument, "FIELD_INVALID", "").WithField("agent.name"), false},
		{"another kind", refuse, apierror.New(apierror.FailedPrecondition, "FIELD_TOO_LONG", "").WithField("agent.name"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			tt.c.Check(r, tt.err, passed)
			if ok := len(r.errors) == 0; ok != tt.ok {
				t.Fatalf("Check passed = %v, want %v", ok, tt.ok)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.json")
	table := `{"about": "x", "cases": [
	  {"name": "long", "op": "register", "input": {"name": {"$repeat": "x", "$times": 3}}, "field": "agent.name", "reason": "FIELD_TOO_LONG"}
	]}`
	if err := os.WriteFile(path, []byte(table), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := Load(t, path)
	if len(cases) != 1 || string(cases[0].Input) != `{"name":"xxx"}` {
		t.Fatalf("Load = %+v", cases)
	}
	var in struct{ Name string }
	cases[0].Decode(t, &in)
	if in.Name != "xxx" {
		t.Fatalf("Decode = %+v", in)
	}
}
