// Package docsection replaces a generated section of a Markdown document,
// between "<!-- NAME:begin -->" and "<!-- NAME:end -->" lines, so that
// commands (make bench, make soak) keep their results in the docs.
package docsection

import (
	"fmt"
	"os"
	"strings"
)

// Replace swaps what lies between the markers of section name in the file
// at path for content. The markers must exist (the document owns where the
// section goes); the begin marker may carry a comment after the name.
func Replace(path, name, content string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := string(b)
	begin := strings.Index(doc, "<!-- "+name+":begin")
	if begin < 0 {
		return fmt.Errorf("%s: no <!-- %s:begin --> marker", path, name)
	}
	afterBegin := strings.Index(doc[begin:], "-->")
	if afterBegin < 0 {
		return fmt.Errorf("%s: unterminated %s:begin marker", path, name)
	}
	afterBegin += begin + len("-->")
	end := strings.Index(doc[afterBegin:], "<!-- "+name+":end -->")
	if end < 0 {
		return fmt.Errorf("%s: no <!-- %s:end --> marker after the begin marker", path, name)
	}
	end += afterBegin
	out := doc[:afterBegin] + "\n" + strings.TrimSpace(content) + "\n" + doc[end:]
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(out), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
