package agent

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/apierror"
)

func TestResolveMask(t *testing.T) {
	tests := []struct {
		name    string
		paths   []string
		fields  Fields
		want    string
		wantErr bool
	}{
		{"snake and camel case", []string{"agent_type", "deploymentEnv"}, Fields{}, "[agentType deploymentEnv]", false},
		{"duplicates collapse", []string{"name", "name"}, Fields{}, "[name]", false},
		{"wildcard", []string{"*"}, Fields{}, "[" + strings.Join(fieldNames, " ") + "]", false},
		{"empty mask means set fields", nil, Fields{Name: "n", Scopes: []string{"a"}}, "[name scopes]", false},
		{"unknown field", []string{"name", "colour"}, Fields{}, "", true},
		{"output-only field", []string{"created_at"}, Fields{}, "", true},
		{"wildcard with others", []string{"*", "name"}, Fields{}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveMask(tt.paths, tt.fields)
			if tt.wantErr {
				if e := apierror.As(err); e == nil || e.Reason != "INVALID_UPDATE_MASK" || e.Field != "updateMask" {
					t.Fatalf("err = %v, want INVALID_UPDATE_MASK", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := "[" + strings.Join(got, " ") + "]"; s != tt.want {
				t.Fatalf("got %s, want %s", s, tt.want)
			}
		})
	}
}

func TestPageTokenRoundTripAndTampering(t *testing.T) {
	id := uuid.Must(uuid.NewV7())
	f := Filter{Owner: "alice"}
	tok := encodePageToken(id, f)
	got, err := decodePageToken(tok, f)
	if err != nil || got != id {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for name, bad := range map[string]string{
		"other filter": encodePageToken(id, Filter{Owner: "bob"}),
		"not base64":   "!!!",
		"not json":     "bm90IGpzb24",
		"nil id":       encodePageToken(uuid.Nil, f),
		"huge":         strings.Repeat("A", 1000),
	} {
		if name == "other filter" {
			if _, err := decodePageToken(bad, f); err == nil {
				t.Errorf("%s: accepted", name)
			}
			continue
		}
		if _, err := decodePageToken(bad, f); !isReason(err, "INVALID_PAGE_TOKEN") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestValidateFields(t *testing.T) {
	valid := func() Fields {
		return Fields{Name: "bot", Owner: "me", AgentType: "custom", Status: StatusActive, Metadata: map[string]string{}}
	}
	tests := []struct {
		name   string
		mutate func(*Fields)
		reason string
	}{
		{"valid", func(*Fields) {}, ""},
		{"unicode name", func(f *Fields) { f.Name = "Ågent ✓ 代理" }, ""},
		{"name of 128 runes", func(f *Fields) { f.Name = strings.Repeat("é", 128) }, ""},
		{"name of 129 runes", func(f *Fields) { f.Name = strings.Repeat("é", 129) }, "FIELD_TOO_LONG"},
		{"invalid utf-8", func(f *Fields) { f.Name = "\xff" }, "FIELD_INVALID"},
		{"65 scopes", func(f *Fields) {
			for i := 0; i < 65; i++ {
				f.Scopes = append(f.Scopes, "s"+strings.Repeat("x", i))
			}
		}, "TOO_MANY_VALUES"},
		{"bad version", func(f *Fields) { f.Version = "1.0 beta" }, "FIELD_INVALID"},
		{"bad env", func(f *Fields) { f.DeploymentEnv = "Prod" }, "FIELD_INVALID"},
		{"metadata at the byte limit", func(f *Fields) {
			for i := 0; i < 16; i++ {
				f.Metadata[strings.Repeat("k", 55)+string(rune('a'+i))] = strings.Repeat("v", 200)
			}
		}, ""},
		{"metadata over the byte limit", func(f *Fields) {
			for i := 0; i < 17; i++ {
				f.Metadata[strings.Repeat("k", 55)+string(rune('a'+i))] = strings.Repeat("v", 200)
			}
		}, "METADATA_TOO_LARGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := valid()
			tt.mutate(&f)
			f.normalize()
			err := f.validateAll("agent.")
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if !isReason(err, tt.reason) {
				t.Fatalf("err = %v, want %s", err, tt.reason)
			}
		})
	}
}

func isReason(err error, reason string) bool {
	e := apierror.As(err)
	return e != nil && e.Reason == reason
}
