// Package config loads a service's typed configuration from environment
// variables (struct tags of github.com/caarlos0/env) and validates it, so a
// bad setting stops the process at start-up with a message naming it.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/sentryagent/agentidp/libs/mtls"
)

// Validator is implemented by configurations with rules beyond parsing.
type Validator interface {
	Validate() error
}

// Load parses the environment into a T and validates it.
func Load[T any]() (T, error) {
	return LoadFrom[T](nil)
}

// LoadFrom is Load over an explicit environment (nil means the process's).
func LoadFrom[T any](environ map[string]string) (T, error) {
	var cfg T
	opts := env.Options{}
	if environ != nil {
		opts.Environment = environ
	}
	if err := env.ParseWithOptions(&cfg, opts); err != nil {
		return cfg, fmt.Errorf("configuration: %w", nameVariables(reflect.TypeOf(cfg), err))
	}
	if v, ok := any(&cfg).(Validator); ok {
		if err := v.Validate(); err != nil {
			return cfg, fmt.Errorf("configuration: %w", err)
		}
	}
	return cfg, nil
}

// nameVariables rewrites parse errors, which name Go fields, to name the
// environment variables an operator actually sets.
func nameVariables(t reflect.Type, err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if name := envName(t, pe.Name); name != "" {
				out = append(out, fmt.Errorf("%s: %v", name, pe.Err))
				continue
			}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// envName finds the env tag of the field called field in t or its embedded structs.
func envName(t reflect.Type, field string) string {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Name == field {
			name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			return name
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if name := envName(f.Type, field); name != "" {
				return name
			}
		}
	}
	return ""
}

// Common is the configuration every service shares.
type Common struct {
	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"text"`
	// ShutdownTimeout bounds how long servers drain on SIGINT/SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s"`
	// Pprof serves Go's profiler on the admin HTTP listener
	// (/debug/pprof/); off unless PPROF_ENABLED=true.
	Pprof bool `env:"PPROF_ENABLED" envDefault:"false"`
}

// Validate checks the shared settings.
func (c Common) Validate() error {
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("LOG_LEVEL: %q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("LOG_FORMAT: %q is not one of text, json", c.LogFormat)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("SHUTDOWN_TIMEOUT: must be positive")
	}
	return nil
}

// CheckAddr validates a host:port listen or dial address held in the named
// variable.
func CheckAddr(name, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s: %q is not host:port: %v", name, addr, err)
	}
	return nil
}

// Mesh is how a process takes part in the mesh's mutual TLS
// (libs/mtls): its certificate, key and the CA bundle, re-read when they
// change. Without them a process refuses to start, unless
// AGENTIDP_INSECURE_PLAINTEXT says this is a development setup where every
// internal call is plaintext and unauthenticated.
type Mesh struct {
	TLSCertFile string `env:"TLS_CERT_FILE"`
	TLSKeyFile  string `env:"TLS_KEY_FILE"`
	TLSCAFile   string `env:"TLS_CA_FILE"`
	// InsecurePlaintext serves and dials gRPC without TLS: development
	// and single-service tests only; never set in a shipped manifest.
	InsecurePlaintext bool `env:"AGENTIDP_INSECURE_PLAINTEXT" envDefault:"false"`
	// GRPCReflection registers the gRPC reflection service (grpcurl
	// without protos); off unless asked for.
	GRPCReflection bool `env:"GRPC_REFLECTION" envDefault:"false"`
}

// Validate requires the three files, or the explicit plaintext flag.
func (m Mesh) Validate() error {
	set := 0
	for _, f := range []string{m.TLSCertFile, m.TLSKeyFile, m.TLSCAFile} {
		if f != "" {
			set++
		}
	}
	switch {
	case set == 3:
		return nil
	case set > 0:
		return errors.New("TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE: set all three or none")
	case m.InsecurePlaintext:
		return nil
	}
	return errors.New("TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE are required: services call each other over mutual TLS " +
		"(AGENTIDP_INSECURE_PLAINTEXT=true turns it off, for development only)")
}

// Plaintext reports whether the process runs without mesh TLS.
func (m Mesh) Plaintext() bool { return m.TLSCertFile == "" }

// Files are the mesh's PEM files (libs/mtls.Load).
func (m Mesh) Files() mtls.Files {
	return mtls.Files{Cert: m.TLSCertFile, Key: m.TLSKeyFile, CA: m.TLSCAFile}
}

// Load returns the process's mesh identity, or nil when it runs plaintext
// (logged as a warning: every internal call is then unauthenticated).
func (m Mesh) Load(logger *slog.Logger) (*mtls.Source, error) {
	if m.Plaintext() {
		logger.Warn("AGENTIDP_INSECURE_PLAINTEXT: internal gRPC is plaintext and unauthenticated (development only)")
		return nil, nil
	}
	src, err := mtls.Load(m.Files())
	if err != nil {
		return nil, err
	}
	src.OnReloadError(func(err error) { logger.Warn("mesh certificate not reloaded", "error", err) })
	logger.Info("mesh identity", "spiffe_id", mtls.ID(src.Name()), "not_after", src.Leaf().NotAfter)
	return src, nil
}
