package agent

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on agent fields. They keep rows small and labels usable; raise
// them with care, since SDKs and the dashboard mirror them. The dashboard's
// forms are held to these rules by testdata/rules.json (TestRuleCases runs
// it here, dashboard/src/lib/rules/rules.test.ts there): a changed rule
// changes its boundary cases, and the dashboard must follow.
const (
	MaxNameLen          = 128
	MaxDescriptionLen   = 1024
	MaxOwnerLen         = 256
	MaxVersionLen       = 64
	MaxListValues       = 64 // capabilities, scopes
	MaxMetadataEntries  = 32
	MaxMetadataValueLen = 256
	MaxMetadataBytes    = 4096 // sum of key and value lengths
	DefaultAgentType    = "custom"
)

var (
	typePattern    = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	envPattern     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	versionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$`)
	// Scopes and capabilities: RFC 6749 scope-tokens, restricted to a
	// conservative alphabet such as "agents:read" or "web.search".
	tokenPattern       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/*-]{0,127}$`)
	metadataKeyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$`)
)

// normalize trims and defaults fields in place before validation.
func (f *Fields) normalize() {
	f.Name = strings.TrimSpace(f.Name)
	f.Owner = strings.TrimSpace(f.Owner)
	f.Description = strings.TrimSpace(f.Description)
	f.Version = strings.TrimSpace(f.Version)
	f.Capabilities = dedupe(f.Capabilities)
	f.Scopes = dedupe(f.Scopes)
	if f.Metadata == nil {
		f.Metadata = map[string]string{}
	}
}

// validateField checks one field by its JSON name; path is how errors name
// it ("agent.name").
func (f *Fields) validateField(name, path string) error {
	switch name {
	case "name":
		return checkText(path, f.Name, MaxNameLen, true)
	case "description":
		return checkText(path, f.Description, MaxDescriptionLen, false)
	case "owner":
		return checkText(path, f.Owner, MaxOwnerLen, true)
	case "agentType":
		if !typePattern.MatchString(f.AgentType) {
			return fieldError(errInvalid, path, "%s must be 1-63 lower-case letters, digits, '-' or '_', starting with a letter", path)
		}
	case "version":
		if f.Version != "" && !versionPattern.MatchString(f.Version) {
			return fieldError(errInvalid, path, "%s must be at most %d letters, digits, '.', '+', '-' or '_'", path, MaxVersionLen)
		}
	case "deploymentEnv":
		if f.DeploymentEnv != "" && !envPattern.MatchString(f.DeploymentEnv) {
			return fieldError(errInvalid, path, "%s must be 1-32 lower-case letters, digits or '-', starting with a letter", path)
		}
	case "capabilities":
		return checkTokens(path, f.Capabilities)
	case "scopes":
		return checkTokens(path, f.Scopes)
	case "metadata":
		return checkMetadata(path, f.Metadata)
	case "status":
		if f.Status != StatusActive && f.Status != StatusSuspended {
			if f.Status == StatusDecommissioned {
				return ErrInvalidTransition.WithMessage("%s cannot be set to decommissioned; DELETE the agent instead", path).WithField(path)
			}
			return fieldError(errInvalid, path, "%s must be active or suspended", path)
		}
	}
	return nil
}

// fieldNames lists the settable fields in the order errors are reported.
var fieldNames = []string{"name", "owner", "description", "agentType", "version",
	"deploymentEnv", "capabilities", "scopes", "metadata", "status"}

func (f *Fields) validateAll(prefix string) error {
	for _, name := range fieldNames {
		if err := f.validateField(name, prefix+name); err != nil {
			return err
		}
	}
	return nil
}

func checkText(path, s string, max int, required bool) error {
	if required && s == "" {
		return fieldError(errRequired, path, "%s is required", path)
	}
	if !utf8.ValidString(s) {
		return fieldError(errInvalid, path, "%s is not valid UTF-8", path)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fieldError(errTooLong, path, "%s is %d characters long; the maximum is %d", path, n, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return fieldError(errInvalid, path, "%s contains a control character", path)
		}
	}
	return nil
}

func checkTokens(path string, values []string) error {
	if len(values) > MaxListValues {
		return fieldError(errTooMany, path, "%s has %d values; the maximum is %d", path, len(values), MaxListValues)
	}
	for _, v := range values {
		if !tokenPattern.MatchString(v) {
			return fieldError(errInvalid, path, "%s: %q must be 1-128 letters, digits or _.:/*- and start with a letter or digit", path, truncate(v, 40))
		}
	}
	return nil
}

func checkMetadata(path string, md map[string]string) error {
	if len(md) > MaxMetadataEntries {
		return fieldError(errMetadataLarge, path, "%s has %d entries; the maximum is %d", path, len(md), MaxMetadataEntries)
	}
	total := 0
	for k, v := range md {
		if !metadataKeyPattern.MatchString(k) {
			return fieldError(errInvalid, path, "%s: key %q must be 1-63 letters, digits or ._/- and start with a letter or digit", path, truncate(k, 40))
		}
		if len(v) > MaxMetadataValueLen {
			return fieldError(errMetadataLarge, path, "%s: the value of %q is %d bytes; the maximum is %d", path, k, len(v), MaxMetadataValueLen)
		}
		if !storableText(v) {
			// PostgreSQL's jsonb cannot hold \u0000: the insert would fail.
			return fieldError(errInvalid, path, "%s: the value of %q must be UTF-8 without NUL characters", path, k)
		}
		total += len(k) + len(v)
	}
	if total > MaxMetadataBytes {
		return fieldError(errMetadataLarge, path, "%s holds %d bytes; the maximum is %d", path, total, MaxMetadataBytes)
	}
	return nil
}

// storableText reports whether PostgreSQL can store s as text: UTF-8 with
// no NUL character.
func storableText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

func dedupe(values []string) []string {
	out := make([]string, 0, len(values))
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		v = strings.TrimSpace(v)
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
