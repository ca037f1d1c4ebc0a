package secret

import "log/slog"

// Plaintext is a client secret in clear. It formats, logs and marshals as
// "[REDACTED]" so that it cannot reach a log line or an error by accident;
// Reveal returns the value for the one place that must see it (the
// response that shows it once, and the Vault write).
type Plaintext string

const redacted = "[REDACTED]"

// Reveal returns the secret itself.
func (p Plaintext) Reveal() string { return string(p) }

func (Plaintext) String() string               { return redacted }
func (Plaintext) GoString() string             { return redacted }
func (Plaintext) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (Plaintext) MarshalText() ([]byte, error) { return []byte(redacted), nil }
