package ai.sentryagent.idp;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/**
 * The result of {@link Audit#verify}: the range of sequences checked and, when {@code ok} is false,
 * where the chain first broke ({@code firstBreak}; null when intact). {@code checkpointsChecked}
 * counts the signed checkpoints in the range whose signature held and whose head matched the
 * recomputed chain; {@code checkpointedThrough} is the newest sequence such a checkpoint covers (0:
 * none), after which events rest on the hash chain alone.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ChainVerification(
    boolean ok,
    long fromSequence,
    long toSequence,
    long eventsChecked,
    ChainBreak firstBreak,
    long checkpointsChecked,
    long checkpointedThrough) {}
