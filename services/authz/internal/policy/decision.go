package policy

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Decision is what a policy decides about one request. A policy's result
// is either a boolean (allowed or not) or an object with the keys of
// opa-envoy-plugin ("allowed", "http_status", "headers",
// "request_headers_to_remove", "response_headers_to_add", "body") and
// AgentIdP's ("reason", "message", "scope", "rate_limit").
type Decision struct {
	Allowed bool
	// HTTPStatus of a denial; 0 means 403.
	HTTPStatus int
	// Reason (UPPER_SNAKE) and Message of a denial, for the error body.
	Reason  string
	Message string
	// Scope of a 403, named in WWW-Authenticate (RFC 6750 §3).
	Scope string
	// Headers go upstream when allowed, to the client when denied.
	Headers map[string]string
	// RequestHeadersToRemove (allowed) and ResponseHeadersToAdd (either).
	RequestHeadersToRemove []string
	ResponseHeadersToAdd   map[string]string
	// Body, if set, replaces the JSON error body of a denial.
	Body string
	// RateLimit is the per-agent bucket an allowed request is charged to.
	RateLimit *RateLimit
}

// RateLimit names a bucket and its limit (GCRA: PerSecond sustained,
// Burst at once). A decision may give the limit inline, or only the
// bucket's name, defined by the rule rate_limits of the decision's package
// (read once per policy version: cheaper than building it per request).
type RateLimit struct {
	Bucket    string
	PerSecond float64
	Burst     int
	named     bool // only the name: resolve from the policy's rate_limits
}

// ErrUndefined: the policy gave no result for the query.
var ErrUndefined = errors.New("policy: the decision is undefined")

// ParseDecision reads a policy result as OPA computed it (an AST value).
func ParseDecision(v ast.Value) (Decision, error) {
	switch r := v.(type) {
	case ast.Boolean:
		return Decision{Allowed: bool(r)}, nil
	case ast.Object:
		return parseObject(r)
	default:
		return Decision{}, fmt.Errorf("policy: decision is %v, not a boolean or object", ast.TypeName(v))
	}
}

func parseObject(m ast.Object) (Decision, error) {
	var d Decision
	var err error
	allowed, ok := get(m, "allowed").(ast.Boolean)
	if !ok {
		return d, errors.New(`policy: decision has no boolean "allowed"`)
	}
	d.Allowed = bool(allowed)
	if v := get(m, "http_status"); v != nil {
		n, err := integer(v)
		if err != nil || n < 100 || n > 599 {
			return d, fmt.Errorf("policy: http_status %v is not an HTTP status", v)
		}
		d.HTTPStatus = n
	}
	d.Reason = str(get(m, "reason"))
	d.Message = str(get(m, "message"))
	d.Scope = str(get(m, "scope"))
	d.Body = str(get(m, "body"))
	if d.Headers, err = stringMap(get(m, "headers"), "headers"); err != nil {
		return d, err
	}
	if d.ResponseHeadersToAdd, err = stringMap(get(m, "response_headers_to_add"), "response_headers_to_add"); err != nil {
		return d, err
	}
	if v := get(m, "request_headers_to_remove"); v != nil {
		list, ok := v.(*ast.Array)
		if !ok {
			return d, errors.New("policy: request_headers_to_remove must be a list of strings")
		}
		for i := 0; i < list.Len(); i++ {
			s, ok := list.Elem(i).Value.(ast.String)
			if !ok {
				return d, errors.New("policy: request_headers_to_remove must be a list of strings")
			}
			d.RequestHeadersToRemove = append(d.RequestHeadersToRemove, strings.ToLower(string(s)))
		}
	}
	switch rl := get(m, "rate_limit").(type) {
	case nil:
	case ast.String:
		d.RateLimit = &RateLimit{Bucket: string(rl), named: true}
	case ast.Object:
		if d.RateLimit, err = parseRateLimit(rl, ""); err != nil {
			return d, err
		}
	default:
		return d, errors.New("policy: rate_limit must be a bucket name or an object")
	}
	return d, nil
}

// parseRateLimit reads {"bucket", "per_second", "burst"}; bucket, if given,
// names a limit defined under that name.
func parseRateLimit(m ast.Object, bucket string) (*RateLimit, error) {
	if bucket == "" {
		bucket = str(get(m, "bucket"))
	}
	if bucket == "" {
		return nil, errors.New("policy: rate_limit has no bucket")
	}
	ps, err := number(get(m, "per_second"))
	if err != nil || ps < 0 || math.IsInf(ps, 0) || math.IsNaN(ps) {
		return nil, fmt.Errorf("policy: rate_limit %s: per_second must be a non-negative number", bucket)
	}
	burst := 1
	if v := get(m, "burst"); v != nil {
		if burst, err = integer(v); err != nil || burst < 1 {
			return nil, fmt.Errorf("policy: rate_limit %s: burst must be a positive integer", bucket)
		}
	}
	return &RateLimit{Bucket: bucket, PerSecond: ps, Burst: burst}, nil
}

// keys are the decision's field names as terms, built once: a lookup with
// a fresh term per field cost two allocations each on the hot path.
var keys = map[string]*ast.Term{}

func init() {
	for _, k := range []string{"allowed", "http_status", "reason", "message", "scope", "body", "headers",
		"response_headers_to_add", "request_headers_to_remove", "rate_limit", "bucket", "per_second", "burst"} {
		keys[k] = ast.StringTerm(k)
	}
}

func get(m ast.Object, key string) ast.Value {
	k, ok := keys[key]
	if !ok {
		k = ast.StringTerm(key)
	}
	t := m.Get(k)
	if t == nil {
		return nil
	}
	return t.Value
}

func str(v ast.Value) string {
	s, _ := v.(ast.String)
	return string(s)
}

func stringMap(v ast.Value, name string) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("policy: %s must be an object of strings", name)
	}
	out := make(map[string]string, m.Len())
	err := m.Iter(func(k, x *ast.Term) error {
		ks, ok1 := k.Value.(ast.String)
		xs, ok2 := x.Value.(ast.String)
		if !ok1 || !ok2 {
			return fmt.Errorf("policy: %s must be an object of strings", name)
		}
		out[string(ks)] = string(xs)
		return nil
	})
	return out, err
}

func number(v ast.Value) (float64, error) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	f, ok := n.Float64()
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	return f, nil
}

func integer(v ast.Value) (int, error) {
	f, err := number(v)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, fmt.Errorf("%v is not an integer", v)
	}
	return int(f), nil
}
