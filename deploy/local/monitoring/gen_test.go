package monitoring

import (
	"bytes"
	"os"
	"testing"
)

const dashboardPath = "../../monitoring/grafana/dashboards/agentidp.json"

// TestDashboardIsGenerated fails when the committed dashboard differs from
// the panel table; regenerate with: go test ./deploy/local/monitoring -update
func TestDashboardIsGenerated(t *testing.T) {
	want, err := Dashboard()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE_DASHBOARD") != "" {
		if err := os.WriteFile(dashboardPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(dashboardPath)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run UPDATE_DASHBOARD=1 go test ./deploy/local/monitoring", dashboardPath)
	}
}

func TestEveryPromisedMetricHasAPanel(t *testing.T) {
	shown := map[string]bool{}
	for _, e := range Expressions() {
		for _, m := range MetricsOf(e.Expr) {
			shown[m] = true
		}
	}
	for _, m := range Promised {
		if !shown[m] {
			t.Errorf("%s (a promised metric) has no panel", m)
		}
	}
}
