package ai.sentryagent.idp;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/**
 * Where the audit chain stops proving the log intact. {@code kind} is hash_mismatch (an event was
 * altered), prev_hash_mismatch (the link to the previous event is broken), missing_events (events
 * were deleted) or head_mismatch (the newest events are gone or the head was altered).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ChainBreak(long sequence, String eventId, String kind, String expected, String actual) {}
