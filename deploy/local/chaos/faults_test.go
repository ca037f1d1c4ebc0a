package chaos

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

// Timing of each fault. A component stays down for outage (long enough for
// the load to hit it and for breakers to trip: five failures), and must be
// serving every kind of request again, with no breaker open, within
// recoverWithin of its restart: libs/grpcclient opens a breaker for 5 s and
// then lets one call probe, so a probe that comes while a dependency is
// still starting costs 5 s more, and a busy machine restarts slowly. A
// breaker in front of a dead service must have closed again within
// closeWithin of the recovery. Then the load runs undisturbed for steady,
// during which every request must succeed.
const (
	outage        = 3 * time.Second
	recoverWithin = 15 * time.Second
	closeWithin   = 10 * time.Second
	steady        = time.Second
	// wallCap bounds the whole suite, mesh start-up and checks included
	// (it usually takes 2-3 minutes on the shared 2-core machine).
	wallCap = 6 * time.Minute
)

// phase is one fault: a component killed and restarted.
type phase struct {
	component string
	killAt    time.Time // SIGKILL sent
	upAt      time.Time // Restart returned: the process accepts connections again
	endAt     time.Time // the mesh recovered and the breakers closed
	failure   string    // why the phase itself failed (restart, recovery)
	// stillNotClosed lists breakers not closed when the phase ended
	// (half-open: no call has needed that dependency since it came back).
	stillNotClosed []string
}

// expectedBreakers: killing a component that other services call over
// gRPC must open their breaker in front of it (at least one of them).
var expectedBreakers = map[string][]string{
	"registry":    {"authz→registry", "credentials→registry", "token→registry"},
	"credentials": {"token→credentials", "authz→credentials"},
}

func TestFaultInjection(t *testing.T) {
	skipShort(t)
	began := time.Now()
	mesh, admin := startMesh(t)
	meshUp := time.Now()
	a := newAPI(mesh.GatewayURL())
	f := setUp(t, a, admin)
	t.Logf("mesh started in %s, fixture ready in %s", meshUp.Sub(began).Round(100*time.Millisecond),
		time.Since(meshUp).Round(100*time.Millisecond))

	targets := map[string]string{}
	for _, svc := range breakerServices {
		targets[svc] = mesh.Replicas(svc)[0].AdminAddr
	}
	breakers := watchBreakers(targets)
	defer breakers.close()
	stalls := watchStalls()
	defer stalls.close()

	l := newLoad(a, f.adminToken, f.readers, f.agents, f.warm, f.fresh)
	loadStart := time.Now()
	l.start()
	time.Sleep(2 * time.Second) // a baseline before the first fault

	var phases []*phase
	for _, c := range stack.Components {
		l.setPhase(c)
		p := runPhase(mesh, l, breakers, c)
		phases = append(phases, p)
		t.Logf("%s: killed at %s, down %s, phase over %s after the restart; breakers not closed then: %v", c,
			p.killAt.Format("15:04:05.000"), p.upAt.Sub(p.killAt).Round(10*time.Millisecond),
			p.endAt.Sub(p.upAt).Round(10*time.Millisecond), p.stillNotClosed)
		if p.failure != "" {
			t.Logf("%s: %s", c, p.failure)
			break // the mesh is not healthy: later phases would measure the wrong thing
		}
		l.setPhase("")
		time.Sleep(steady)
	}
	l.stopAndWait()
	loadEnd := time.Now()

	records, agents, creds, tokens := l.snapshot()
	rows := summarise(phases, records, breakers)
	table := renderTable(rows)
	t.Logf("results (%d requests in %s):\n%s", len(records), loadEnd.Sub(loadStart).Round(time.Second), table)
	for _, r := range rows {
		t.Logf("%s killed: slowest request %s %s took %s (%s %s)", r.component, r.slowest.kind, r.slowest.path,
			r.slowest.end.Sub(r.slowest.start).Round(time.Millisecond), outcome(r.slowest), r.slowest.reason)
	}

	// Nothing acknowledged may be lost: read back every write, and find
	// every change's audit event exactly once.
	checkPhases(t, phases)
	for _, st := range stalls.all() {
		t.Logf("this test process did not run for %s from %s (the machine stalled)", st[1].Sub(st[0]).Round(10*time.Millisecond),
			st[0].Format("15:04:05.000"))
	}
	checkAnswers(t, phases, records, stalls)
	checkBreakers(t, phases, breakers)
	checksFrom := time.Now()
	verifyWrites(t, a, f.adminToken, agents, creds)
	if !verifyAudit(t, a, f.adminToken, began, agents, creds, tokens, tokenKill(phases)) {
		auditDiagnostics(t, mesh.Ports().Redis, mesh.Replicas("token")[0].AdminAddr)
	}
	t.Logf("read-back and audit checks took %s", time.Since(checksFrom).Round(100*time.Millisecond))

	wall := time.Since(began)
	t.Logf("suite wall time %s", wall.Round(time.Second))
	if wall > wallCap {
		t.Errorf("the suite took %s, over its cap of %s", wall.Round(time.Second), wallCap)
	}
	if t.Failed() {
		return
	}
	if updateRequested() {
		if err := writeReliabilityDoc(table, report{wall: wall, requests: len(records), loadFor: loadEnd.Sub(loadStart),
			agents: len(agents), credentials: len(creds), tokens: len(tokens)}); err != nil {
			t.Fatal(err)
		}
		t.Log("docs/reliability.md updated")
	}
}

// tokenKill is when the token service was killed (zero if it was not).
func tokenKill(phases []*phase) time.Time {
	for _, p := range phases {
		if p.component == "token" {
			return p.killAt
		}
	}
	return time.Time{}
}

// runPhase kills one component under load, restarts it after outage, and
// waits until the mesh serves every kind of request again without failures
// and no breaker is open, then (within closeWithin) until one of the
// breakers in front of the component has closed again.
func runPhase(mesh *stack.Stack, l *load, breakers *breakerWatch, component string) *phase {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := &phase{component: component}
	p.killAt = time.Now()
	if err := mesh.Kill(component); err != nil {
		p.failure = err.Error()
		p.upAt, p.endAt = p.killAt, p.killAt
		return p
	}
	time.Sleep(outage)
	err := mesh.Restart(ctx, component)
	p.upAt = time.Now()
	if err != nil {
		p.failure = fmt.Sprintf("restart: %v", err)
		p.endAt = p.upAt
		return p
	}
	err = waitFor(recoverWithin, func() error {
		if err := l.healthySince(p.upAt, time.Second); err != nil {
			return err
		}
		if open := breakers.opened(); len(open) > 0 {
			return fmt.Errorf("breakers open: %v", open)
		}
		return nil
	})
	if err != nil {
		p.failure = fmt.Sprintf("no recovery within %s of the restart: %v", recoverWithin, err)
		p.endAt = time.Now()
		return p
	}
	// A breaker closes on the first successful call after it half-opens:
	// give one of those in front of the dead component, which the load
	// uses, the time to (checkBreakers judges).
	_ = waitFor(closeWithin, func() error {
		if breakersReclosed(breakers.between(p.killAt, time.Now()), expectedBreakers[component]) {
			return nil
		}
		return errors.New("no breaker in front of it has closed again")
	})
	p.stillNotClosed = breakers.notClosed()
	p.endAt = time.Now()
	return p
}
