package command

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	idp "github.com/sentryagent/agentidp/sdks/go"
)

func newAgents(s Streams) *cobra.Command {
	o := &apiOptions{}
	cmd := &cobra.Command{
		Use:     "agents",
		Aliases: []string{"agent"},
		Short:   "Register agents and manage their lifecycle (/v1/agents)",
		Long: `Register agents and manage their lifecycle. A caller without platform:admin
reaches only its own owner's agents: another owner's agent is "not found"
(exit 4), as one that does not exist.

` + exitCodesHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	o.bind(cmd)
	defer withExitCodes(cmd)
	cmd.AddCommand(agentsList(s, o), agentsGet(s, o), agentsRegister(s, o), agentsUpdate(s, o),
		agentStatus(s, o, "suspend", "Suspend an agent: its tokens stop working", (*idp.AgentsService).Suspend),
		agentStatus(s, o, "reactivate", "Reactivate a suspended agent", (*idp.AgentsService).Reactivate),
		agentStatus(s, o, "decommission", "Decommission an agent for good (its credentials and tokens stop working; the record stays)", (*idp.AgentsService).Decommission))
	return cmd
}

func agentRows(agents []*idp.Agent) [][]string {
	rows := [][]string{{"AGENT ID", "NAME", "OWNER", "STATUS", "TYPE", "SCOPES", "CREATED"}}
	for _, a := range agents {
		rows = append(rows, []string{a.AgentID, a.Name, orDash(a.Owner), a.Status, orDash(a.AgentType), orDash(join(a.Scopes)), ts(a.CreatedAt)})
	}
	return rows
}

func agentFields(a *idp.Agent) [][]string {
	return fields("Agent ID", a.AgentID, "Name", a.Name, "Description", a.Description, "Owner", a.Owner,
		"Status", a.Status, "Type", a.AgentType, "Version", a.Version, "Capabilities", join(a.Capabilities),
		"Scopes", join(a.Scopes), "Environment", a.DeploymentEnv, "Metadata", kvs(a.Metadata),
		"Created", ts(a.CreatedAt), "Updated", ts(a.UpdatedAt), "Suspended", ts(a.SuspendedAt),
		"Decommissioned", ts(a.DecommissionedAt), "Etag", a.Etag)
}

// run is the body of a command that calls the API: it checks --output,
// makes the client, and hands both to f.
func run(s Streams, o *apiOptions, f func(ctx context.Context, c *idp.Client, p *printer) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		p, err := o.printer(s)
		if err != nil {
			return err
		}
		c, err := o.client()
		if err != nil {
			return err
		}
		return f(cmd.Context(), c, p)
	}
}

func agentsList(s Streams, o *apiOptions) *cobra.Command {
	var (
		f     idp.AgentFilter
		limit int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List agents, oldest first",
		Args:  noArgs,
	}
	cmd.RunE = run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
		if limit < 0 {
			return usagef("--limit must not be negative")
		}
		agents := []*idp.Agent{}
		for a, err := range c.Agents.List(ctx, f) {
			if err != nil {
				return err
			}
			agents = append(agents, a)
			if limit > 0 && len(agents) == limit {
				break
			}
		}
		return p.print(agents, func() [][]string { return agentRows(agents) })
	})
	fl := cmd.Flags()
	fl.StringVar(&f.Status, "status", "", "only agents in this status: active, suspended or decommissioned")
	fl.StringVar(&f.Owner, "owner", "", "only this owner's agents (platform:admin; others see only their own)")
	fl.StringVar(&f.AgentType, "type", "", "only agents of this type")
	fl.StringVar(&f.Search, "search", "", "only agents whose name contains this (case-insensitive)")
	fl.IntVar(&limit, "limit", 0, "stop after this many agents (0: all)")
	fl.IntVar(&f.PageSize, "page-size", 0, "agents per request, 1 to 100 (0: the server's default)")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions([]string{idp.StatusActive, idp.StatusSuspended, idp.StatusDecommissioned}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func agentsGet(s Streams, o *apiOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get AGENT_ID",
		Short: "Show one agent, whatever its status",
		Args:  exactArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
			a, err := c.Agents.Get(ctx, args[0])
			if err != nil {
				return err
			}
			return p.print(a, func() [][]string { return agentFields(a) })
		})(cmd, args)
	}
	return cmd
}

// agentFlags are the fields of register and update.
type agentFlags struct {
	name, description, agentType, version, owner, env string
	capabilities, scopes                              []string
	metadata                                          map[string]string
}

func (a *agentFlags) bind(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&a.name, "name", "", "the agent's name")
	fl.StringVar(&a.description, "description", "", "what the agent does")
	fl.StringVar(&a.agentType, "type", "", "the agent's type (e.g. assistant, worker)")
	fl.StringVar(&a.version, "version", "", "the agent's version")
	fl.StringVar(&a.owner, "owner", "", "the owner (tenant); naming another than the caller's needs platform:admin")
	fl.StringVar(&a.env, "env", "", "the deployment environment (e.g. production)")
	fl.StringSliceVar(&a.capabilities, "capability", nil, "a capability (repeat, or comma-separated)")
	fl.StringSliceVar(&a.scopes, "scope", nil, "a scope the agent may hold (repeat, or comma-separated)")
	fl.StringToStringVar(&a.metadata, "metadata", nil, "metadata KEY=VALUE (repeat, or comma-separated)")
}

func agentsRegister(s Streams, o *apiOptions) *cobra.Command {
	var (
		a         agentFlags
		requestID string
	)
	cmd := &cobra.Command{
		Use:   "register --name NAME [flags]",
		Short: "Register an agent (status active)",
		Long: `Register an agent in status active. --request-id makes the registration
idempotent: repeating it returns the agent the first call created.`,
		Args: noArgs,
	}
	cmd.RunE = run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
		if strings.TrimSpace(a.name) == "" {
			return usagef("register needs --name")
		}
		ag, err := c.Agents.Register(ctx, idp.AgentInput{Name: a.name, Description: a.description, AgentType: a.agentType,
			Version: a.version, Owner: a.owner, Capabilities: a.capabilities, Scopes: a.scopes,
			DeploymentEnv: a.env, Metadata: a.metadata, RequestID: requestID})
		if err != nil {
			return err
		}
		return p.print(ag, func() [][]string { return agentFields(ag) })
	})
	a.bind(cmd)
	cmd.Flags().StringVar(&requestID, "request-id", "", "makes the registration idempotent")
	return cmd
}

func agentsUpdate(s Streams, o *apiOptions) *cobra.Command {
	var (
		a    agentFlags
		etag string
	)
	cmd := &cobra.Command{
		Use:   "update AGENT_ID [flags]",
		Short: "Change the fields given as flags (and only those)",
		Long: `Change the fields given as flags, and only those; an empty value clears a
field (--description "", --scope ""). --etag makes the update conditional:
it fails with exit 5 when the agent changed since it was read.`,
		Args: exactArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		changed := cmd.Flags().Changed
		u := idp.AgentUpdate{Etag: etag}
		str := func(flag string, v string) *string {
			if changed(flag) {
				return &v
			}
			return nil
		}
		list := func(flag string, v []string) *[]string {
			if !changed(flag) {
				return nil
			}
			out := []string{}
			for _, x := range v {
				if x != "" {
					out = append(out, x)
				}
			}
			return &out
		}
		u.Name, u.Description, u.AgentType = str("name", a.name), str("description", a.description), str("type", a.agentType)
		u.Version, u.Owner, u.DeploymentEnv = str("version", a.version), str("owner", a.owner), str("env", a.env)
		u.Capabilities, u.Scopes = list("capability", a.capabilities), list("scope", a.scopes)
		if changed("metadata") {
			m := a.metadata
			if m == nil {
				m = map[string]string{}
			}
			u.Metadata = &m
		}
		return run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
			ag, err := c.Agents.Update(ctx, args[0], u)
			if err != nil {
				return err
			}
			return p.print(ag, func() [][]string { return agentFields(ag) })
		})(cmd, args)
	}
	a.bind(cmd)
	cmd.Flags().StringVar(&etag, "etag", "", "update only if the agent still has this etag")
	return cmd
}

func agentStatus(s Streams, o *apiOptions, use, short string, do func(*idp.AgentsService, context.Context, string) (*idp.Agent, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use + " AGENT_ID",
		Short: short,
		Args:  exactArgs(1),
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return run(s, o, func(ctx context.Context, c *idp.Client, p *printer) error {
			a, err := do(c.Agents, ctx, args[0])
			if err != nil {
				return err
			}
			return p.print(a, func() [][]string { return agentFields(a) })
		})(cmd, args)
	}
	return cmd
}
