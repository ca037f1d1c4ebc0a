// Package input builds the policy's input document from the request the
// gateway describes, as an OPA AST value built directly (no JSON or
// map[string]any round trip): the opa-envoy-plugin layout
// (input.attributes.request.http, input.parsed_path, input.parsed_query,
// input.parsed_body, input.truncated_body) plus input.token, input.agent and
// input.target.
package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Request is an HTTP request as the gateway's ext_authz filter describes it.
type Request struct {
	ID       string
	Method   string
	Path     string // path and query, normalised by Envoy
	Host     string
	Scheme   string
	Protocol string
	// Headers have lower-case names; repeated headers are comma-joined.
	Headers map[string]string
	Body    []byte
	// Size is the body size Envoy saw (-1 unknown).
	Size int64
	// SourceAddress is the client's address.
	SourceAddress     string
	ContextExtensions map[string]string
}

// Parsed is what Build learned about the request, for the caller.
type Parsed struct {
	// PathOnly is the path without its query string.
	PathOnly string
	// Truncated: the body the filter sent is not the whole body.
	Truncated bool
}

// omittedHeaders never reach the policy: the token is verified before it
// runs and offered as input.token; the request id (like the request's "id",
// also left out) is unique per request and no authorisation attribute, and
// without it a repeated question has the same input (decisions of
// deterministic policies are remembered by input).
var omittedHeaders = map[string]bool{"authorization": true, "x-request-id": true}

// Build returns input for the policy; token and agent may be nil
// (anonymous request), target too (the path names no agent, or no agent
// that exists).
func Build(r *Request, token, agent, target ast.Value) (ast.Value, Parsed) {
	pathOnly, rawQuery, _ := strings.Cut(r.Path, "?")
	p := Parsed{PathOnly: pathOnly}

	headers := make([][2]*ast.Term, 0, len(r.Headers))
	for k, v := range r.Headers {
		if omittedHeaders[k] {
			continue
		}
		headers = append(headers, [2]*ast.Term{str(k), ast.StringTerm(v)})
	}
	httpItems := make([][2]*ast.Term, 0, 8)
	httpItems = append(httpItems,
		[2]*ast.Term{kMethod, str(r.Method)},
		[2]*ast.Term{kPath, ast.StringTerm(r.Path)},
		[2]*ast.Term{kHost, str(r.Host)},
		[2]*ast.Term{kScheme, str(r.Scheme)},
		[2]*ast.Term{kProtocol, str(r.Protocol)},
		[2]*ast.Term{kHeaders, ast.NewTerm(ast.NewObject(headers...))},
	)
	if len(r.Body) > 0 {
		httpItems = append(httpItems, [2]*ast.Term{kBody, ast.StringTerm(string(r.Body))})
	}
	attrs := make([][2]*ast.Term, 0, 3)
	attrs = append(attrs, [2]*ast.Term{kRequest, ast.ObjectTerm([2]*ast.Term{kHTTP, ast.NewTerm(ast.NewObject(httpItems...))})})
	if r.SourceAddress != "" {
		attrs = append(attrs, [2]*ast.Term{kSource, ast.ObjectTerm([2]*ast.Term{kAddress, str(r.SourceAddress)})})
	}
	if len(r.ContextExtensions) > 0 {
		ext := make([][2]*ast.Term, 0, len(r.ContextExtensions))
		for k, v := range r.ContextExtensions {
			ext = append(ext, [2]*ast.Term{ast.StringTerm(k), ast.StringTerm(v)})
		}
		attrs = append(attrs, [2]*ast.Term{kContextExtensions, ast.NewTerm(ast.NewObject(ext...))})
	}

	items := make([][2]*ast.Term, 0, 7)
	items = append(items,
		[2]*ast.Term{kAttributes, ast.NewTerm(ast.NewObject(attrs...))},
		[2]*ast.Term{kParsedPath, ParsePath(pathOnly)},
		[2]*ast.Term{kParsedQuery, parseQuery(rawQuery)},
	)
	p.Truncated = truncated(r)
	if p.Truncated {
		items = append(items, [2]*ast.Term{kTruncatedBody, ast.InternedTerm(true)})
	} else if body := bytes.TrimSpace(r.Body); len(body) > 0 && (body[0] == '{' || body[0] == '[') {
		if v, err := ParseJSON(body); err == nil {
			items = append(items, [2]*ast.Term{kParsedBody, ast.NewTerm(v)})
		}
	}
	if token != nil {
		items = append(items, [2]*ast.Term{kToken, ast.NewTerm(token)})
	}
	if agent != nil {
		items = append(items, [2]*ast.Term{kAgent, ast.NewTerm(agent)})
	}
	if target != nil {
		items = append(items, [2]*ast.Term{kTarget, ast.NewTerm(target)})
	}
	return ast.NewObject(items...), p
}

// UnavailableTarget is input.target for an agent whose state cannot be
// established now.
func UnavailableTarget(id string) ast.Value {
	return ast.NewObject(ast.Item(ast.StringTerm("id"), ast.StringTerm(id)), ast.Item(ast.StringTerm("unavailable"), ast.BooleanTerm(true)))
}

// TargetAgent returns the agent id a request path names, "" if none: the
// segment after "agents" (AIP resource names: /v1/agents/{agentId}/...),
// percent-decoded, without a ":verb" suffix, when it is a UUID (agent ids
// are; anything else names no agent and costs no lookup).
func TargetAgent(pathAndQuery string) string {
	path, _, _ := strings.Cut(pathAndQuery, "?")
	rest := path
	for {
		i := strings.Index(rest, "/agents/")
		if i < 0 {
			return ""
		}
		rest = rest[i+len("/agents/"):]
		seg, _, _ := strings.Cut(rest, "/")
		if strings.IndexByte(seg, '%') >= 0 {
			if d, err := url.PathUnescape(seg); err == nil {
				seg = d
			}
		}
		if j := strings.IndexByte(seg, ':'); j >= 0 {
			seg = seg[:j]
		}
		if isUUID(seg) {
			return strings.ToLower(seg)
		}
	}
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// Terms of the input's fixed keys and of frequent values, built once:
// terms are immutable, and each one saved is an allocation off the hot
// path.
var (
	kMethod, kPath, kHost, kScheme, kProtocol, kHeaders, kBody = str0("method"), str0("path"),
		str0("host"), str0("scheme"), str0("protocol"), str0("headers"), str0("body")
	kRequest, kHTTP, kSource, kAddress, kContextExtensions = str0("request"), str0("http"), str0("source"),
		str0("address"), str0("context_extensions")
	kAttributes, kParsedPath, kParsedQuery, kTruncatedBody, kParsedBody, kToken, kAgent, kTarget = str0("attributes"),
		str0("parsed_path"), str0("parsed_query"), str0("truncated_body"), str0("parsed_body"), str0("token"), str0("agent"),
		str0("target")
	emptyObject = ast.ObjectTerm()
)

var interned = map[string]*ast.Term{}

func str0(s string) *ast.Term {
	t := ast.StringTerm(s)
	interned[s] = t
	return t
}

func init() {
	for _, s := range []string{
		"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS", "http", "https", "HTTP/1.1", "HTTP/2",
		":authority", ":method", ":path", ":scheme", "accept", "accept-encoding", "content-type", "content-length",
		"user-agent", "x-forwarded-for", "x-forwarded-proto", "x-request-id", "x-envoy-expected-rq-timeout-ms",
		"x-envoy-internal", "x-envoy-auth-partial-body", "if-match", "gzip", "application/json", "v1", "agents",
		"credentials", "audit", "events", "verify",
	} {
		str0(s)
	}
}

// str returns the interned term of s, or a new one.
func str(s string) *ast.Term {
	if t, ok := interned[s]; ok {
		return t
	}
	return ast.StringTerm(s)
}

// ParsePath splits a path into its segments, percent-decoded (the leading
// slash dropped, a trailing slash giving an empty last segment).
func ParsePath(path string) *ast.Term {
	path = strings.TrimPrefix(path, "/")
	parts := strings.Split(path, "/")
	terms := make([]*ast.Term, len(parts))
	for i, s := range parts {
		if strings.IndexByte(s, '%') >= 0 {
			if d, err := url.PathUnescape(s); err == nil {
				s = d
			}
		}
		terms[i] = str(s)
	}
	return ast.ArrayTerm(terms...)
}

// ValidUTF8 reports whether pathAndQuery is UTF-8 and every path segment
// and every query parameter name and value of it still is once
// percent-decoded (a malformed escape is taken literally, as Envoy's
// transcoder takes it). The transcoder binds path variables and query
// parameters to proto string fields, which must hold UTF-8: a service
// cannot even decode a request that breaks this, so authz refuses it
// before anything else reads it. (The raw bytes must be UTF-8 too, so that
// the policy, which keeps a segment it cannot decode as it is, never sees
// anything else.)
func ValidUTF8(pathAndQuery string) bool {
	if !utf8.ValidString(pathAndQuery) {
		return false
	}
	if strings.IndexByte(pathAndQuery, '%') < 0 {
		return true
	}
	for part := range strings.FieldsFuncSeq(pathAndQuery, func(r rune) bool {
		return r == '/' || r == '?' || r == '&' || r == '='
	}) {
		if !utf8.ValidString(unescapeLenient(part)) {
			return false
		}
	}
	return true
}

// unescapeLenient decodes every well-formed %XX of s and keeps the rest.
func unescapeLenient(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func parseQuery(raw string) *ast.Term {
	if raw == "" {
		return emptyObject
	}
	q, _ := url.ParseQuery(raw) // what parses; the transcoder refuses the rest
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	items := make([][2]*ast.Term, 0, len(keys))
	for _, k := range keys {
		vals := make([]*ast.Term, len(q[k]))
		for i, v := range q[k] {
			vals[i] = ast.StringTerm(v)
		}
		items = append(items, ast.Item(ast.StringTerm(k), ast.ArrayTerm(vals...)))
	}
	return ast.ObjectTerm(items...)
}

// truncated reports whether the body the filter sent is incomplete: Envoy
// says so, or the declared length is longer than what arrived.
func truncated(r *Request) bool {
	if r.Headers["x-envoy-auth-partial-body"] == "true" {
		return true
	}
	if cl, ok := r.Headers["content-length"]; ok {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > int64(len(r.Body)) {
			return true
		}
	}
	return false
}

// maxDepth bounds nesting in a request body.
const maxDepth = 64

// Errors of ParseJSON.
var (
	ErrDuplicateKey = errors.New("input: duplicate key in JSON object")
	ErrTooDeep      = errors.New("input: JSON nested too deeply")
)

// ParseJSON converts one JSON value to an AST value. A duplicate key in any
// object is an error: parsers disagree on which copy wins, and the policy
// must read the body the way the service will.
func ParseJSON(b []byte) (ast.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("input: trailing data after JSON value")
	}
	return v, nil
}

func parseValue(dec *json.Decoder, depth int) (ast.Value, error) {
	if depth > maxDepth {
		return nil, ErrTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := ast.NewObject()
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				if seen[k] {
					return nil, ErrDuplicateKey
				}
				seen[k] = true
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj.Insert(ast.StringTerm(k), ast.NewTerm(v))
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return obj, nil
		case '[':
			var terms []*ast.Term
			for dec.More() {
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				terms = append(terms, ast.NewTerm(v))
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return ast.NewArray(terms...), nil
		}
		return nil, errors.New("input: unexpected delimiter")
	case string:
		return ast.String(t), nil
	case json.Number:
		return ast.Number(t), nil
	case bool:
		return ast.Boolean(t), nil
	case nil:
		return ast.Null{}, nil
	}
	return nil, errors.New("input: unexpected token")
}
