package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestBootstrapCommand(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr bool
	}{
		{name: "defaults", want: []string{`id: "agentidp-gateway"`, `address: "127.0.0.1", port_value: 18000`, `address: "127.0.0.1", port_value: 9901`}},
		{name: "flags", args: []string{"-xds", "10.0.0.5:18001", "-admin", "127.0.0.1:9902", "-node", "edge-1"},
			want: []string{`id: "edge-1"`, `address: "10.0.0.5", port_value: 18001`, `port_value: 9902`}},
		{name: "bad flag", args: []string{"-nope"}, wantErr: true},
		{name: "stray argument", args: []string{"extra"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := bootstrap(tt.args, &out, &errOut)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("accepted %v", tt.args)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
