// Package policy loads a policy directory (Rego modules, their tests and
// JSON data), compiles it into a prepared OPA query after its tests pass,
// and swaps it in atomically when the directory changes.
package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Bundle is one version of a policy directory, parsed.
//
// Layout: every *.rego file under the directory is a module (those ending
// in _test.rego are tests); every *.json file under data/ is mounted at
// data.<path without .json>, so data/scopes.json is data.scopes and
// data/app/limits.json is data.app.limits.
type Bundle struct {
	Dir      string
	Revision string // sha256 of every file's name and content
	Modules  map[string]*ast.Module
	Tests    map[string]*ast.Module
	Data     map[string]any
}

// maxFile bounds one policy or data file; a policy directory is code and
// configuration, not a database.
const maxFile = 4 << 20

// Fingerprint hashes the names and contents of the files Load would read,
// without parsing them, so that a watcher can tell cheaply whether anything
// changed.
func Fingerprint(dir string) (string, error) {
	files, err := policyFiles(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// Load reads and parses the policy directory.
func Load(dir string) (*Bundle, error) {
	files, err := policyFiles(dir)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Dir: dir, Modules: map[string]*ast.Module{}, Tests: map[string]*ast.Module{}, Data: map[string]any{}}
	h := sha256.New()
	for _, name := range files {
		content, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if len(content) > maxFile {
			return nil, fmt.Errorf("%s: larger than %d bytes", name, maxFile)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(content))
		h.Write(content)
		switch {
		case strings.HasSuffix(name, ".rego"):
			m, err := ast.ParseModuleWithOpts(name, string(content), ast.ParserOptions{RegoVersion: ast.RegoV1})
			if err != nil {
				return nil, err
			}
			if strings.HasSuffix(name, "_test.rego") {
				b.Tests[name] = m
			} else {
				b.Modules[name] = m
			}
		default:
			if err := b.mount(name, content); err != nil {
				return nil, err
			}
		}
	}
	if len(b.Modules) == 0 {
		return nil, fmt.Errorf("no .rego policy in %s", dir)
	}
	b.Revision = hex.EncodeToString(h.Sum(nil)[:12])
	return b, nil
}

// mount places a data/ JSON file in the data document.
func (b *Bundle) mount(name string, content []byte) error {
	dec := json.NewDecoder(bytes.NewReader(content))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: more than one JSON value", name)
	}
	path := strings.Split(strings.TrimSuffix(strings.TrimPrefix(name, "data/"), ".json"), "/")
	node := b.Data
	for _, p := range path[:len(path)-1] {
		child, ok := node[p].(map[string]any)
		if !ok {
			if _, taken := node[p]; taken {
				return fmt.Errorf("%s: data.%s is both a document and a directory", name, p)
			}
			child = map[string]any{}
			node[p] = child
		}
		node = child
	}
	leaf := path[len(path)-1]
	if _, taken := node[leaf]; taken {
		return fmt.Errorf("%s: data.%s is both a document and a directory", name, strings.Join(path, "."))
	}
	node[leaf] = v
	return nil
}

// policyFiles lists the directory's .rego files and data/**/*.json files,
// relative and slash-separated, sorted. Hidden files and directories (an
// editor's swap files, .git) are skipped.
func policyFiles(dir string) ([]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	var out []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		switch {
		case strings.HasSuffix(rel, ".rego"):
			out = append(out, rel)
		case strings.HasPrefix(rel, "data/") && strings.HasSuffix(rel, ".json"):
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no policy files")
	}
	sort.Strings(out)
	return out, nil
}
