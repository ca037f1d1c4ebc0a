// Package monitoring holds AgentIdP's observability contract in one place:
// the Grafana dashboard (generated from the panel table below into
// deploy/monitoring/grafana/dashboards/agentidp.json), the Prometheus
// scrape jobs, and the list of metrics every deployment promises (the services' READMEs list them). Tests
// evaluate every expression against a real Prometheus scraping the mesh.
package monitoring

import (
	"bytes"
	"encoding/json"
)

// Panel is one Grafana time-series panel.
type Panel struct {
	Title   string
	Unit    string // Grafana unit: "reqps", "s", "percentunit", "short"
	Targets []Target
	// Needs names the service that must run for the panel to have data
	// (documentation, and lets tests skip panels of services not in the stack).
	Needs string
}

// Target is one PromQL query of a panel.
type Target struct {
	Expr   string
	Legend string
}

// Row groups panels.
type Row struct {
	Title  string
	Panels []Panel
}

const rate = "[1m]" // short windows: the dashboard is for operators watching live

func quantiles(metric, by, selector string) []Target {
	var out []Target
	for _, q := range []string{"0.5", "0.95", "0.99"} {
		out = append(out, Target{
			Expr:   "histogram_quantile(" + q + ", sum by (le, " + by + ") (rate(" + metric + "_bucket" + selector + rate + ")))",
			Legend: "p" + q[2:] + " {{" + by + "}}",
		})
	}
	return out
}

// ratio is part/whole by the given labels, 0 (not "no data") while part has
// no series yet, as for an error ratio without errors.
func ratio(part, whole, by string) string {
	w := "sum by (" + by + ") (rate(" + whole + rate + "))"
	return "(sum by (" + by + ") (rate(" + part + rate + ")) or " + w + " * 0) / " + w
}

// Rows is the dashboard, top to bottom.
var Rows = []Row{
	{Title: "Tokens", Panels: []Panel{
		{Title: "Token requests by outcome", Unit: "reqps", Needs: "token", Targets: []Target{
			{Expr: "sum by (outcome) (rate(agentidp_tokens_issued_total" + rate + "))", Legend: "{{outcome}}"},
		}},
		{Title: "Token endpoint latency", Unit: "s", Needs: "token",
			Targets: quantiles("agentidp_http_request_duration_seconds", "job", `{job="token",path="/oauth2/token"}`)},
		{Title: "Rate-limit rejections (429)", Unit: "reqps", Needs: "token", Targets: []Target{
			{Expr: "sum by (job) (rate(agentidp_rate_limit_rejections_total" + rate + "))", Legend: "{{job}}"},
		}},
		{Title: "Client-auth cache hit ratio", Unit: "percentunit", Needs: "token", Targets: []Target{
			{Expr: ratio(`agentidp_token_client_auth_total{result="cache_hit"}`, "agentidp_token_client_auth_total", "job"), Legend: "{{job}}"},
		}},
		{Title: "Client authentications by result", Unit: "reqps", Needs: "token", Targets: []Target{
			{Expr: "sum by (result) (rate(agentidp_token_client_auth_total" + rate + "))", Legend: "{{result}}"},
		}},
	}},
	{Title: "Authorization", Panels: []Panel{
		{Title: "Decisions by result and reason", Unit: "reqps", Needs: "authz", Targets: []Target{
			{Expr: "sum by (result, reason) (rate(agentidp_authz_decisions_total" + rate + "))", Legend: "{{result}} {{reason}}"},
		}},
		{Title: "Check latency (handler)", Unit: "s", Needs: "authz",
			Targets: quantiles("agentidp_authz_check_duration_seconds", "job", "")},
		{Title: "Verified-token cache hit ratio", Unit: "percentunit", Needs: "authz", Targets: []Target{
			{Expr: ratio(`agentidp_authz_token_cache_total{result="hit"}`, "agentidp_authz_token_cache_total", "job"), Legend: "{{job}}"},
		}},
		{Title: "Kill-switch feeds live (min over replicas)", Unit: "short", Needs: "authz", Targets: []Target{
			{Expr: "min by (feed) (agentidp_authz_feed_live)", Legend: "{{feed}}"},
		}},
		{Title: "Policy reloads", Unit: "short", Needs: "authz", Targets: []Target{
			{Expr: "sum by (result) (increase(agentidp_authz_policy_reloads_total" + rate + "))", Legend: "{{result}}"},
		}},
	}},
	{Title: "Traffic", Panels: []Panel{
		{Title: "Agents registered", Unit: "short", Needs: "registry", Targets: []Target{
			{Expr: "sum(increase(agentidp_agents_registered_total" + rate + "))", Legend: "registered"},
		}},
		{Title: "HTTP requests by route and status", Unit: "reqps", Targets: []Target{
			{Expr: "sum by (job, path, status) (rate(agentidp_http_requests_total" + rate + "))", Legend: "{{job}} {{path}} {{status}}"},
		}},
		{Title: "HTTP 5xx ratio", Unit: "percentunit", Targets: []Target{
			{Expr: ratio(`agentidp_http_requests_total{status=~"5.."}`, "agentidp_http_requests_total", "job"), Legend: "{{job}}"},
		}},
		{Title: "HTTP latency", Unit: "s", Targets: quantiles("agentidp_http_request_duration_seconds", "job", "")},
		{Title: "Gateway responses by class", Unit: "reqps", Needs: "envoy", Targets: []Target{
			{Expr: `sum by (envoy_response_code_class) (rate(envoy_http_downstream_rq_xx{envoy_http_conn_manager_prefix="agentidp"}` + rate + `))`, Legend: "{{envoy_response_code_class}}xx"},
		}},
	}},
	{Title: "gRPC", Panels: []Panel{
		{Title: "RPCs by method and code", Unit: "reqps", Targets: []Target{
			{Expr: "sum by (grpc_service, grpc_method, grpc_code) (rate(agentidp_grpc_server_handled_total" + rate + "))", Legend: "{{grpc_method}} {{grpc_code}}"},
		}},
		{Title: "RPC error ratio (server faults)", Unit: "percentunit", Targets: []Target{
			{Expr: ratio(`agentidp_grpc_server_handled_total{grpc_code=~"Internal|Unknown|Unavailable|DeadlineExceeded|DataLoss"}`, "agentidp_grpc_server_handled_total", "job"), Legend: "{{job}}"},
		}},
		{Title: "RPC latency", Unit: "s", Targets: quantiles("agentidp_grpc_server_handling_seconds", "grpc_method", "")},
		{Title: "Calls to other services by code", Unit: "reqps", Targets: []Target{
			{Expr: "sum by (job, grpc_service, grpc_code) (rate(agentidp_grpc_client_handled_total" + rate + "))", Legend: "{{job}} → {{grpc_service}} {{grpc_code}}"},
		}},
		{Title: "Circuit breakers (0 closed, 1 half-open, 2 open)", Unit: "short", Targets: []Target{
			{Expr: "max by (job, dependency) (agentidp_grpc_client_breaker_state)", Legend: "{{job}} → {{dependency}}"},
		}},
	}},
	{Title: "Data stores", Panels: []Panel{
		{Title: "PostgreSQL query latency", Unit: "s", Targets: quantiles("agentidp_db_query_duration_seconds", "job", "")},
		{Title: "Redis command latency", Unit: "s", Needs: "audit", Targets: quantiles("agentidp_redis_command_duration_seconds", "job", "")},
		{Title: "Vault request latency", Unit: "s", Needs: "credentials", Targets: quantiles("agentidp_vault_request_duration_seconds", "job", "")},
	}},
	{Title: "Audit", Panels: []Panel{
		{Title: "Audit events ingested by source", Unit: "short", Needs: "audit", Targets: []Target{
			{Expr: "sum by (source) (rate(agentidp_audit_events_ingested_total" + rate + "))", Legend: "{{source}}"},
		}},
		{Title: "Audit ingest lag", Unit: "s", Needs: "audit", Targets: []Target{
			{Expr: "max by (source) (agentidp_audit_ingest_lag_seconds)", Legend: "{{source}}"},
		}},
	}},
}

// Dashboard renders the Grafana dashboard JSON.
func Dashboard() ([]byte, error) {
	var panels []map[string]any
	id, y := 1, 0
	for _, row := range Rows {
		panels = append(panels, map[string]any{
			"id": id, "type": "row", "title": row.Title, "collapsed": false,
			"gridPos": map[string]int{"h": 1, "w": 24, "x": 0, "y": y}, "panels": []any{},
		})
		id++
		y++
		for i, p := range row.Panels {
			var targets []map[string]any
			for j, t := range p.Targets {
				targets = append(targets, map[string]any{
					"refId": string(rune('A' + j)), "expr": t.Expr, "legendFormat": t.Legend,
					"datasource": map[string]string{"type": "prometheus", "uid": "${datasource}"},
				})
			}
			x := (i % 3) * 8
			if i > 0 && i%3 == 0 {
				y += 8
			}
			panels = append(panels, map[string]any{
				"id": id, "type": "timeseries", "title": p.Title,
				"datasource":  map[string]string{"type": "prometheus", "uid": "${datasource}"},
				"gridPos":     map[string]int{"h": 8, "w": 8, "x": x, "y": y},
				"fieldConfig": map[string]any{"defaults": map[string]any{"unit": p.Unit}, "overrides": []any{}},
				"options":     map[string]any{"legend": map[string]any{"displayMode": "list", "placement": "bottom"}},
				"targets":     targets,
			})
			id++
		}
		y += 8
	}
	dash := map[string]any{
		"uid": "agentidp-overview", "title": "AgentIdP", "tags": []string{"agentidp"},
		"timezone": "utc", "schemaVersion": 39, "version": 1, "refresh": "10s",
		"time": map[string]string{"from": "now-1h", "to": "now"},
		"templating": map[string]any{"list": []any{map[string]any{
			"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source",
		}}},
		"panels": panels,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(dash); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Expressions returns every PromQL expression of the dashboard with the
// title of its panel and the service it needs.
func Expressions() []struct{ Panel, Needs, Expr string } {
	var out []struct{ Panel, Needs, Expr string }
	for _, row := range Rows {
		for _, p := range row.Panels {
			for _, t := range p.Targets {
				out = append(out, struct{ Panel, Needs, Expr string }{p.Title, p.Needs, t.Expr})
			}
		}
	}
	return out
}
