package bootstrap

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Waiting for the services: a one-shot container or Job starts together
// with the mesh, before the services have migrated their databases. Poll
// often enough that a bootstrap finishes soon after the services are up,
// and report rarely enough that the log stays readable.
const (
	pollInterval   = time.Second
	reportInterval = 10 * time.Second
)

// WaitReady polls grpc.health.v1 on each connection until every one
// answers SERVING (the services' readiness: their databases, Vault and the
// services they call answer), or ctx ends. log gets a line when waiting
// starts and every reportInterval while it lasts.
func WaitReady(ctx context.Context, conns map[string]*grpc.ClientConn, log func(string)) error {
	if log == nil {
		log = func(string) {}
	}
	var names []string
	for n := range conns {
		names = append(names, n)
	}
	sort.Strings(names)
	lastReport := time.Time{}
	for {
		var waiting []string
		for _, n := range names {
			resp, err := healthpb.NewHealthClient(conns[n]).Check(ctx, &healthpb.HealthCheckRequest{})
			switch {
			case err != nil:
				waiting = append(waiting, fmt.Sprintf("%s (%v)", n, err))
			case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
				waiting = append(waiting, fmt.Sprintf("%s (%s)", n, resp.GetStatus()))
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Since(lastReport) >= reportInterval {
			log("waiting for " + strings.Join(waiting, ", "))
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the services are not ready: %s: %w", strings.Join(waiting, ", "), ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
