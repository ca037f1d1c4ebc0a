package docsection

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplace(t *testing.T) {
	tests := []struct {
		name, doc, want string
		wantErr         bool
	}{
		{
			name: "replaces between the markers",
			doc:  "# T\n<!-- r:begin (generated) -->\nold\n<!-- r:end -->\ntail\n",
			want: "# T\n<!-- r:begin (generated) -->\nnew\n<!-- r:end -->\ntail\n",
		},
		{
			name: "empty section",
			doc:  "<!-- r:begin --><!-- r:end -->",
			want: "<!-- r:begin -->\nnew\n<!-- r:end -->",
		},
		{name: "no begin marker", doc: "x <!-- r:end -->", wantErr: true},
		{name: "no end marker", doc: "<!-- r:begin --> x", wantErr: true},
		{name: "other section only", doc: "<!-- s:begin --><!-- s:end -->", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "doc.md")
			if err := os.WriteFile(path, []byte(tt.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			err := Replace(path, "r", "\nnew\n")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			got, _ := os.ReadFile(path)
			if !tt.wantErr && string(got) != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
