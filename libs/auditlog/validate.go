package auditlog

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/apierror"
)

// Limits of an event's fields (bytes).
const (
	MaxActorLen         = 128
	MaxActionLen        = 64
	MaxTargetLen        = 256
	MaxRequestIDLen     = 128
	MaxSourceAddressLen = 64
	MaxOwnerLen         = 256 // the registry's limit on an agent's owner
	MaxDetails          = 32
	MaxDetailKeyLen     = 64
	MaxDetailValueLen   = 256
	MaxDetailsBytes     = 4096
)

// Redacted replaces a detail value that looks like a secret or a token.
const Redacted = "[REDACTED]"

// TruncatedKey marks details that Normalize had to cut.
const TruncatedKey = "truncated"

// The checks below are byte loops, not regular expressions: they run for
// every event on the token hot path, where a regexp per detail showed in
// the CPU profile of every token.

// isKeyByte reports whether b may appear in a detail key: A-Z a-z 0-9 _ . -
func isKeyByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '.' || b == '-'
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isKeyByte(k[i]) {
			return false
		}
	}
	return true
}

// isBase64URL reports whether b is in the base64url alphabet.
func isBase64URL(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-'
}

// containsJWT reports whether s holds something shaped like a JWT: a
// base64url JSON header and payload ("eyJ..." twice), dot-separated.
func containsJWT(s string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], "eyJ")
		if j < 0 {
			return false
		}
		start := i + j
		if end, ok := jwtSegment(s, start); ok && strings.HasPrefix(s[end:], "eyJ") {
			if _, ok := jwtSegment(s, end); ok {
				return true
			}
		}
		i = start + 3
	}
}

// jwtSegment matches eyJ[A-Za-z0-9_-]{2,}\. at s[i:] and returns the index
// after the dot.
func jwtSegment(s string, i int) (int, bool) {
	if !strings.HasPrefix(s[i:], "eyJ") {
		return 0, false
	}
	n := i + 3
	for n < len(s) && isBase64URL(s[n]) {
		n++
	}
	if n-(i+3) < 2 || n >= len(s) || s[n] != '.' {
		return 0, false
	}
	return n + 1, true
}

// secretKeys are detail keys (lower-cased, without "_" and "-") whose values
// are secrets or tokens by their very name.
var secretKeys = []string{
	"secret", "clientsecret", "password", "passwd", "token", "accesstoken", "refreshtoken",
	"idtoken", "bearer", "authorization", "assertion", "clientassertion", "apikey", "privatekey",
}

// secretPrefixes start values that are AgentIdP client secrets or bearer
// credentials.
var secretPrefixes = []string{"agentidp_sk_", "Bearer ", "bearer ", "Basic ", "basic "}

// Errors of Validate (reasons are part of the public API).
var (
	errRequired     = apierror.New(apierror.InvalidArgument, "FIELD_REQUIRED", "")
	errInvalid      = apierror.New(apierror.InvalidArgument, "FIELD_INVALID", "")
	errTooLong      = apierror.New(apierror.InvalidArgument, "FIELD_TOO_LONG", "")
	errDetailsLarge = apierror.New(apierror.InvalidArgument, "DETAILS_TOO_LARGE", "")
)

func fieldErr(base *apierror.Error, field, format string, args ...any) *apierror.Error {
	return base.WithMessage(format, args...).WithField(field)
}

// Validate checks e strictly, as the audit service's Record does. Field
// names in errors are the JSON names ("eventId", "details.foo").
func (e Event) Validate() error {
	if e.ID == uuid.Nil {
		return fieldErr(errRequired, "eventId", "eventId is required")
	}
	if e.ID.Version() != 7 || e.ID.Variant() != uuid.RFC4122 {
		return fieldErr(errInvalid, "eventId", "eventId must be a UUIDv7")
	}
	if e.OccurredAt.IsZero() {
		return fieldErr(errRequired, "occurredAt", "occurredAt is required")
	}
	if e.OccurredAt.Year() < 2000 || e.OccurredAt.Year() > 9999 {
		return fieldErr(errInvalid, "occurredAt", "occurredAt is out of range")
	}
	if err := checkText("actor", e.Actor, MaxActorLen, true); err != nil {
		return err
	}
	if e.Action == "" {
		return fieldErr(errRequired, "action", "action is required")
	}
	if !ValidAction(e.Action) {
		return fieldErr(errInvalid, "action", `action must look like "agent.registered" (lower-case words joined by dots, at most %d bytes)`, MaxActionLen)
	}
	if err := checkText("target", e.Target, MaxTargetLen, false); err != nil {
		return err
	}
	if e.AgentID != "" {
		if id, err := uuid.Parse(e.AgentID); err != nil || len(e.AgentID) != 36 || id == uuid.Nil {
			return fieldErr(errInvalid, "agentId", "agentId must be a UUID")
		}
	}
	switch e.Outcome {
	case OutcomeSuccess, OutcomeFailure, OutcomeDenied:
	case "":
		return fieldErr(errRequired, "outcome", "outcome is required")
	default:
		return fieldErr(errInvalid, "outcome", "outcome must be success, failure or denied")
	}
	if err := checkText("requestId", e.RequestID, MaxRequestIDLen, false); err != nil {
		return err
	}
	if err := checkText("owner", e.Owner, MaxOwnerLen, false); err != nil {
		return err
	}
	if err := checkText("sourceAddress", e.SourceAddress, MaxSourceAddressLen, false); err != nil {
		return err
	}
	return validateDetails(e.Details)
}

func validateDetails(d map[string]string) error {
	if len(d) > MaxDetails {
		return fieldErr(errDetailsLarge, "details", "details has more than %d entries", MaxDetails)
	}
	total := 0
	for _, k := range slices.Sorted(maps.Keys(d)) {
		v := d[k]
		field := "details." + k
		if len(k) > MaxDetailKeyLen || !validKey(k) {
			return fieldErr(errInvalid, "details", "detail keys are 1 to %d characters of A-Z a-z 0-9 _ . -", MaxDetailKeyLen)
		}
		if len(v) > MaxDetailValueLen {
			return fieldErr(errDetailsLarge, field, "%s is longer than %d bytes", field, MaxDetailValueLen)
		}
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return fieldErr(errInvalid, field, "%s must be UTF-8 text without NUL", field)
		}
		if looksSecret(k, v) {
			return fieldErr(errInvalid, field, "details must never carry a secret or a token (record its id instead)")
		}
		total += len(k) + len(v)
	}
	if total > MaxDetailsBytes {
		return fieldErr(errDetailsLarge, "details", "details are larger than %d bytes", MaxDetailsBytes)
	}
	return nil
}

// checkText checks a single-line text field.
func checkText(field, v string, max int, required bool) error {
	if v == "" {
		if required {
			return fieldErr(errRequired, field, "%s is required", field)
		}
		return nil
	}
	if len(v) > max {
		return fieldErr(errTooLong, field, "%s is longer than %d bytes", field, max)
	}
	if !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
		return fieldErr(errInvalid, field, "%s must be UTF-8 text without control characters", field)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func looksSecret(key, value string) bool {
	// The key lower-cased without "_", "-" and ".", in a stack buffer.
	var buf [MaxDetailKeyLen]byte
	k := buf[:0]
	for i := 0; i < len(key) && len(k) < len(buf); i++ {
		switch b := key[i]; {
		case b == '_' || b == '-' || b == '.':
		case b >= 'A' && b <= 'Z':
			k = append(k, b+'a'-'A')
		default:
			k = append(k, b)
		}
	}
	if value != Redacted {
		for _, sk := range secretKeys {
			if string(k) == sk { // compared in place: no allocation
				return true
			}
		}
	}
	for _, p := range secretPrefixes {
		if strings.HasPrefix(value, p) || (p == "agentidp_sk_" && strings.Contains(value, p)) {
			return true
		}
	}
	return containsJWT(value)
}

// Normalize returns e made acceptable to Validate wherever that is possible
// without guessing: timestamps cut to microseconds, an empty actor becomes
// "system", text fields are cut to their limits with control characters
// replaced, detail values that look like secrets are redacted, and details
// over the limits are cut (adding details.truncated = "true"). It cannot fix
// a missing or malformed id, action or outcome: Validate still refuses those.
func Normalize(e Event) Event {
	e.OccurredAt = e.OccurredAt.UTC().Truncate(time.Microsecond)
	if e.Actor == "" {
		e.Actor = ActorSystem
	}
	e.Actor = cleanText(e.Actor, MaxActorLen)
	e.Target = cleanText(e.Target, MaxTargetLen)
	e.RequestID = cleanText(e.RequestID, MaxRequestIDLen)
	e.SourceAddress = cleanText(e.SourceAddress, MaxSourceAddressLen)
	e.Owner = cleanText(e.Owner, MaxOwnerLen)
	e.AgentID = strings.ToLower(e.AgentID)
	if len(e.Details) == 0 {
		e.Details = nil
		return e
	}
	out := make(map[string]string, len(e.Details))
	truncated := false
	total := 0
	for _, k := range slices.Sorted(maps.Keys(e.Details)) {
		v := e.Details[k]
		key := cleanKey(k)
		if key == "" || key == TruncatedKey {
			truncated = true
			continue
		}
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			v = strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "")
			truncated = true
		}
		// Judged once cleaned: taking out a NUL can join the pieces of a
		// secret ("agentidp\x00_sk_…"), which Validate would then refuse.
		if looksSecret(key, v) {
			v = Redacted
		}
		if len(v) > MaxDetailValueLen {
			v = cut(v, MaxDetailValueLen)
			truncated = true
		}
		// Leave room for the truncation marker.
		if len(out) >= MaxDetails-1 || total+len(key)+len(v) > MaxDetailsBytes-len(TruncatedKey)-4 {
			truncated = true
			continue
		}
		if _, dup := out[key]; dup {
			truncated = true
			continue
		}
		out[key] = v
		total += len(key) + len(v)
	}
	if truncated {
		out[TruncatedKey] = "true"
	}
	e.Details = out
	return e
}

func cleanKey(k string) string {
	k = strings.Map(func(r rune) rune {
		if r < 0x80 && isKeyByte(byte(r)) {
			return r
		}
		return '_'
	}, k)
	return cut(k, MaxDetailKeyLen)
}

func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
	return cut(s, max)
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// String summarises an event for logs (never its details).
func (e Event) String() string {
	return fmt.Sprintf("%s %s by %s on %s (%s)", e.ID, e.Action, e.Actor, e.Target, e.Outcome)
}

// ValidAction reports whether s has the shape of an action
// ("agent.registered"): at least two lower-case words of [a-z][a-z0-9_]*
// joined by dots.
func ValidAction(s string) bool {
	if len(s) > MaxActionLen {
		return false
	}
	words, wordStart := 0, true
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case wordStart:
			if b < 'a' || b > 'z' {
				return false
			}
			wordStart = false
			words++
		case b == '.':
			wordStart = true
		case !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_'):
			return false
		}
	}
	return words >= 2 && !wordStart
}
