package command

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"

	idp "github.com/sentryagent/agentidp/sdks/go"
)

// printer writes a command's result as a table (text/tabwriter), JSON or
// YAML. JSON and YAML are the SDK's models as the REST API names them
// (YAML is converted from the JSON, so both have the same fields); secrets
// in them are the SDK's idp.Secret, which marshals as [REDACTED], unless a
// command put the revealed value in on purpose (credentials generate).
type printer struct {
	format string
	w      io.Writer
}

// print writes v; table writes the table form (rows of cells; the first row
// is the header).
func (p *printer) print(v any, table func() [][]string) error {
	switch p.format {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = p.w.Write(b)
		return err
	case "id":
		ids, ok := idsOf(v)
		if !ok {
			return usagef("-o id: this command's result has no id; use table, json or yaml")
		}
		for _, id := range ids {
			if _, err := fmt.Fprintln(p.w, id); err != nil {
				return err
			}
		}
		return nil
	}
	return writeTable(p.w, table())
}

// idsOf is -o id: the ids of the agents, credentials or events in v, one
// per line, for ID=$(agentidp agents register ... -o id).
func idsOf(v any) ([]string, bool) {
	switch v := v.(type) {
	case *idp.Agent:
		return []string{v.AgentID}, true
	case []*idp.Agent:
		out := make([]string, len(v))
		for i, a := range v {
			out[i] = a.AgentID
		}
		return out, true
	case issued:
		return []string{v.Credential.CredentialID}, true
	case *idp.Credential:
		return []string{v.CredentialID}, true
	case []*idp.Credential:
		out := make([]string, len(v))
		for i, c := range v {
			out[i] = c.CredentialID
		}
		return out, true
	case *idp.AuditEvent:
		return []string{v.EventID}, true
	case []*idp.AuditEvent:
		out := make([]string, len(v))
		for i, e := range v {
			out[i] = e.EventID
		}
		return out, true
	}
	return nil, false
}

// line writes one item of a stream (audit query --follow): a JSON object
// per line, a YAML document, or table rows without header.
func (p *printer) line(v any, row []string) error {
	switch p.format {
	case "json":
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.w, "---\n%s", b)
		return err
	}
	if p.format == "id" {
		ids, _ := idsOf(v)
		_, err := fmt.Fprintln(p.w, strings.Join(ids, "\n"))
		return err
	}
	return writeTable(p.w, [][]string{row})
}

func writeTable(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		for i, c := range r {
			// A tab or newline in a value would break the columns.
			r[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fields is the table of one object: FIELD VALUE rows.
func fields(kv ...string) [][]string {
	rows := [][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			rows = append(rows, []string{kv[i] + ":", kv[i+1]})
		}
	}
	return rows
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func join(s []string) string { return strings.Join(s, ",") }

func kvs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}
