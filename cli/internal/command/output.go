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
	}
	return writeTable(p.w, table())
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
