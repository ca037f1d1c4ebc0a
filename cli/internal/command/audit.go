package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	idp "github.com/sentryagent/agentidp/sdks/go"
)

func newAudit(s Streams) *cobra.Command {
	o := &apiOptions{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the audit log (/v1/audit; scope audit:read)",
		Long: `Read the audit log and verify its hash chain. A caller without
platform:admin reads only its own owner's events.

` + exitCodesHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	o.bind(cmd)
	defer withExitCodes(cmd)
	cmd.AddCommand(auditQuery(s, o), auditGet(s, o), auditVerify(s, o), auditCheckpoints(s, o))
	return cmd
}

func auditRow(e *idp.AuditEvent) []string {
	return []string{ts(e.OccurredAt), e.Action, e.Outcome, e.Actor, orDash(e.Target), orDash(e.Owner), strconv.FormatInt(e.Sequence, 10), e.EventID}
}

var auditHeader = []string{"TIME", "ACTION", "OUTCOME", "ACTOR", "TARGET", "OWNER", "SEQ", "EVENT ID"}

// timeFlag reads --since/--until: an RFC 3339 time or a duration before now.
func timeFlag(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usagef("--%s %q: want an RFC 3339 time or a duration such as 1h", name, v)
	}
	return t, nil
}

func auditQuery(s Streams, o *apiOptions) *cobra.Command {
	var (
		f            idp.AuditFilter
		since, until string
		limit        int
		follow       bool
		interval     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "query [flags]",
		Short: "Query audit events, newest first; --follow polls for new ones",
		Long: `Query audit events matching the flags, newest first (at most --limit).

With --follow, the events are printed oldest first and the command keeps
polling every --interval for new ones, printing each as it arrives (a JSON
object per line with -o json, a YAML document with -o yaml), until
interrupted (Ctrl-C: exit 0). Progress goes to standard error.`,
		Args: noArgs,
	}
	cmd.RunE = run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
		now := time.Now()
		var err error
		if f.StartTime, err = timeFlag("since", since, now); err != nil {
			return err
		}
		if f.EndTime, err = timeFlag("until", until, now); err != nil {
			return err
		}
		if limit < 0 || interval <= 0 {
			return usagef("--limit must not be negative and --interval must be positive")
		}
		if follow && !f.EndTime.IsZero() {
			return usagef("--follow and --until exclude each other")
		}
		events := []*idp.AuditEvent{}
		for e, err := range c.Audit.Query(ctx, f) {
			if err != nil {
				return err
			}
			events = append(events, e)
			if limit > 0 && len(events) == limit {
				break
			}
		}
		if !follow {
			return p.print(events, func() [][]string {
				rows := [][]string{auditHeader}
				for _, e := range events {
					rows = append(rows, auditRow(e))
				}
				return rows
			})
		}
		var floor time.Time
		if limit > 0 && len(events) == limit {
			// Older events than those shown were left out on purpose: a
			// poll must not print them later.
			floor = events[len(events)-1].OccurredAt
		}
		return followAudit(ctx, s, c, p, f, events, floor, interval)
	})
	fl := cmd.Flags()
	fl.StringVar(&f.AgentID, "agent", "", "only events about this agent")
	fl.StringVar(&f.Action, "action", "", "only this action (e.g. agent.created, token.issued)")
	fl.StringVar(&f.Outcome, "outcome", "", "only this outcome: success, failure or denied")
	fl.StringVar(&f.Actor, "actor", "", "only events caused by this actor")
	fl.StringVar(&f.Owner, "owner", "", "only this owner's events (platform:admin; others read only their own)")
	fl.StringVar(&since, "since", "", "only events at or after this time (RFC 3339, or a duration before now: 1h)")
	fl.StringVar(&until, "until", "", "only events before this time (RFC 3339, or a duration before now)")
	fl.IntVar(&limit, "limit", 50, "at most this many events (0: all); with --follow, how many past events to start with")
	fl.IntVar(&f.PageSize, "page-size", 0, "events per request, 1 to 1000 (0: the server's default)")
	fl.BoolVarP(&follow, "follow", "f", false, "keep polling for new events until interrupted")
	fl.DurationVar(&interval, "interval", 2*time.Second, "--follow: how often to poll")
	_ = cmd.RegisterFlagCompletionFunc("outcome", cobra.FixedCompletions([]string{"success", "failure", "denied"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// followWindow is how far back each poll of --follow looks: events reach
// the log some time after they occur (the outbox, the stream), so a poll
// asks again for a little of the past and skips the events it printed.
const followWindow = 2 * time.Minute

func followAudit(ctx context.Context, s Streams, c *idp.Client, p *printer, f idp.AuditFilter, past []*idp.AuditEvent, floor time.Time, interval time.Duration) error {
	seen := map[string]time.Time{}
	latest := f.StartTime
	emit := func(e *idp.AuditEvent) error {
		seen[e.EventID] = e.OccurredAt
		if e.OccurredAt.After(latest) {
			latest = e.OccurredAt
		}
		return p.line(e, auditRow(e))
	}
	if p.format == "table" {
		if err := writeTable(s.Out, [][]string{auditHeader}); err != nil {
			return err
		}
	}
	slices.Reverse(past) // oldest first
	for _, e := range past {
		if err := emit(e); err != nil {
			return err
		}
	}
	if latest.IsZero() {
		latest = time.Now()
	}
	fmt.Fprintf(s.Err, "agentidp: following audit events every %s (Ctrl-C to stop)\n", interval)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(s.Err, "agentidp: stopped following")
			return nil
		case <-tick.C:
		}
		q := f
		q.StartTime = latest.Add(-followWindow)
		if !f.StartTime.IsZero() && q.StartTime.Before(f.StartTime) {
			q.StartTime = f.StartTime
		}
		var fresh []*idp.AuditEvent
		var err error
		for e, qerr := range c.Audit.Query(ctx, q) {
			if qerr != nil {
				err = qerr
				break
			}
			if _, ok := seen[e.EventID]; !ok && !e.OccurredAt.Before(floor) {
				fresh = append(fresh, e)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(s.Err, "agentidp: stopped following")
				return nil
			}
			var apiErr *idp.AgentIdPError
			if code, _ := apiExitCode(err); errors.As(err, &apiErr) && code == ExitUnavailable {
				// A deployment restarting is no reason to stop following.
				fmt.Fprintf(s.Err, "agentidp: %s; retrying\n", describe(err))
				continue
			}
			return err
		}
		slices.Reverse(fresh)
		for _, e := range fresh {
			if err := emit(e); err != nil {
				return err
			}
		}
		// Forget what the next poll can no longer return.
		for id, at := range seen {
			if at.Before(latest.Add(-2 * followWindow)) {
				delete(seen, id)
			}
		}
	}
}

func auditGet(s Streams, o *apiOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get EVENT_ID",
		Short: "Show one audit event",
		Args:  exactArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
			e, err := c.Audit.Get(ctx, args[0])
			if err != nil {
				return err
			}
			return p.print(e, func() [][]string {
				return fields("Event ID", e.EventID, "Occurred", ts(e.OccurredAt), "Recorded", ts(e.RecordedAt),
					"Action", e.Action, "Outcome", e.Outcome, "Actor", e.Actor, "Target", e.Target, "Agent ID", e.AgentID,
					"Owner", e.Owner, "Request ID", e.RequestID, "Source", e.SourceAddress, "Details", kvs(e.Details),
					"Sequence", strconv.FormatInt(e.Sequence, 10), "Previous hash", e.PrevHash, "Hash", e.Hash)
			})
		})(cmd, args)
	}
	return cmd
}

// errChainBroken is audit verify's failure: exit 1, the break printed.
var errChainBroken = errors.New("the audit chain is broken")

func auditVerify(s Streams, o *apiOptions) *cobra.Command {
	var from, to int64
	cmd := &cobra.Command{
		Use:   "verify [--from SEQ] [--to SEQ]",
		Short: "Recompute the audit log's hash chain and report the first break (platform:admin)",
		Long: `Recompute the audit log's hash chain over the sequences --from to --to
(default: all; without --to the chain's recorded head is checked too, so
a truncated tail is a break) and report the first break. Exit 0 when the
chain is intact, 1 when it is broken.`,
		Args: noArgs,
	}
	cmd.RunE = run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
		v, err := c.Audit.Verify(ctx, from, to)
		if err != nil {
			return err
		}
		err = p.print(v, func() [][]string {
			rows := fields("Intact", fmt.Sprint(v.OK), "From sequence", strconv.FormatInt(v.FromSequence, 10),
				"To sequence", strconv.FormatInt(v.ToSequence, 10), "Events checked", strconv.FormatInt(v.EventsChecked, 10),
				"Checkpoints checked", strconv.FormatInt(v.CheckpointsChecked, 10),
				"Checkpointed through", strconv.FormatInt(v.CheckpointedThrough, 10))
			if b := v.FirstBreak; b != nil {
				rows = append(rows, fields("Break at", strconv.FormatInt(b.Sequence, 10), "Kind", b.Kind,
					"Event ID", b.EventID, "Expected", b.Expected, "Actual", b.Actual)...)
			}
			return rows
		})
		if err == nil && !v.OK {
			return errChainBroken
		}
		return err
	})
	cmd.Flags().Int64Var(&from, "from", 0, "first sequence to check (0: the oldest kept)")
	cmd.Flags().Int64Var(&to, "to", 0, "last sequence to check (0: the newest, and the recorded head)")
	return cmd
}

func auditCheckpoints(s Streams, o *apiOptions) *cobra.Command {
	var (
		from  int64
		limit int
	)
	cmd := &cobra.Command{
		Use:   "checkpoints [--from SEQ]",
		Short: "List the audit chain's signed checkpoints, oldest first (platform:admin)",
		Long: `List the signed checkpoints of the audit chain, oldest first: every N events
or M minutes the audit service signs the chain's head with a key PostgreSQL
never sees, so that anyone holding the public key can prove the log against
them (docs/audit.md, "Signed checkpoints"). audit verify checks them.`,
		Args: noArgs,
	}
	cmd.RunE = run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
		if from < 0 || limit < 0 {
			return usagef("--from and --limit must not be negative")
		}
		list := []*idp.AuditCheckpoint{}
		for cp, err := range c.Audit.Checkpoints(ctx, from) {
			if err != nil {
				return err
			}
			list = append(list, cp)
			if limit > 0 && len(list) == limit {
				break
			}
		}
		return p.print(list, func() [][]string {
			rows := [][]string{{"SEQ", "SIGNED", "ALGORITHM", "KEY ID", "HASH"}}
			for _, cp := range list {
				rows = append(rows, []string{strconv.FormatInt(cp.Sequence, 10), ts(cp.SignedAt), cp.Algorithm, cp.KeyID, cp.Hash})
			}
			return rows
		})
	})
	cmd.Flags().Int64Var(&from, "from", 0, "only checkpoints at or after this sequence")
	cmd.Flags().IntVar(&limit, "limit", 0, "stop after this many checkpoints (0: all)")
	return cmd
}
