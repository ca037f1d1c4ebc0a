package chaos

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// kind is a class of request in the mixed load.
type kind string

const (
	kindToken      kind = "token"      // POST /oauth2/token, a client seen before (warm cache)
	kindTokenFirst kind = "token-new"  // POST /oauth2/token, a credential's first use (credentials service)
	kindRead       kind = "read"       // GET /v1/agents/{id}
	kindRegister   kind = "register"   // POST /v1/agents
	kindCredential kind = "credential" // POST /v1/agents/{id}/credentials
	kindAudit      kind = "audit"      // GET /v1/audit/events?agentId=
)

var kinds = []kind{kindToken, kindTokenFirst, kindRead, kindRegister, kindCredential, kindAudit}

// record is one request of the load.
type record struct {
	kind    kind
	path    string
	start   time.Time
	end     time.Time
	status  int    // 0: no HTTP answer
	netErr  string // transportKind when status is 0
	detail  string // the transport error, when status is 0
	reason  string // the error body's reason or OAuth code
	problem string // what is wrong with the answer (see problem); "" if fine
}

func (r record) ok() bool { return r.status >= 200 && r.status < 300 }

// credential is a client credential the load created (or set up).
type credential struct {
	agentID, credentialID, secret string
	// during names the phase in which it was created ("" at set-up).
	during string
}

// issued is a token the load received, for the audit check.
type issued struct {
	jti, agentID string
	at           time.Time // when the answer arrived
}

// load drives the mixed traffic and remembers every answer and every
// acknowledged write.
type load struct {
	api        *api
	adminToken string
	readers    []string // tokens of agents holding agents:read
	phase      atomic.Pointer[string]

	mu       sync.Mutex
	records  []record
	agents   []string     // registered with a 2xx
	created  []credential // created with a 2xx
	warm     []credential // used before: warm tokens take these in turn
	nextWarm int
	fresh    []credential // never used yet: the next first uses
	tokens   []issued
	lastOK   map[kind]time.Time // start of the latest success per kind
	lastFail time.Time          // end of the latest failure

	stop chan struct{}
	wg   sync.WaitGroup
}

func newLoad(a *api, adminToken string, readers []string, agents []string, warm, fresh []credential) *load {
	l := &load{api: a, adminToken: adminToken, readers: readers, agents: agents, warm: warm, fresh: fresh,
		lastOK: map[kind]time.Time{}, stop: make(chan struct{})}
	l.setPhase("")
	return l
}

func (l *load) setPhase(name string) { l.phase.Store(&name) }

// start runs each kind of request in its own goroutines at a steady pace
// (a closed loop: a slow answer delays that goroutine's next request).
func (l *load) start() {
	every := func(n int, d time.Duration, f func(rng *mrand.Rand)) {
		for i := 0; i < n; i++ {
			l.wg.Add(1)
			go func(seed uint64) {
				defer l.wg.Done()
				rng := mrand.New(mrand.NewPCG(seed, uint64(time.Now().UnixNano())))
				t := time.NewTicker(d)
				defer t.Stop()
				for {
					select {
					case <-l.stop:
						return
					case <-t.C:
						f(rng)
					}
				}
			}(uint64(i) + 1)
		}
	}
	every(3, 100*time.Millisecond, l.issueWarm)
	every(1, 400*time.Millisecond, l.issueFirst)
	for i := range l.readers {
		tok := l.readers[i]
		every(1, 100*time.Millisecond, func(rng *mrand.Rand) { l.read(rng, tok) })
	}
	every(1, 250*time.Millisecond, l.register)
	every(1, 300*time.Millisecond, l.createCredential)
	every(1, 500*time.Millisecond, l.queryAudit)
}

func (l *load) stopAndWait() {
	close(l.stop)
	l.wg.Wait()
}

func (l *load) note(k kind, path string, start time.Time, r reply) {
	rec := record{kind: k, path: path, start: start, end: start.Add(r.took), status: r.status,
		netErr: transportKind(r.err), problem: problem(path, r)}
	if r.err != nil {
		rec.status = 0 // no answer, or its body broke off
		rec.detail = r.err.Error()
	}
	if rec.status >= 300 {
		rec.reason = errorReason(r.body)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, rec)
	if rec.ok() {
		if rec.start.After(l.lastOK[k]) {
			l.lastOK[k] = rec.start
		}
	} else if rec.end.After(l.lastFail) {
		l.lastFail = rec.end
	}
}

func pick[T any](rng *mrand.Rand, mu *sync.Mutex, s *[]T) (T, bool) {
	mu.Lock()
	defer mu.Unlock()
	var zero T
	if len(*s) == 0 {
		return zero, false
	}
	return (*s)[rng.IntN(len(*s))], true
}

// issueWarm takes the warm clients in turn: each stays well under the
// token service's per-client limit (10/s), which a random pick among the
// few clients of the first seconds could exceed (a correct 429).
func (l *load) issueWarm(*mrand.Rand) {
	l.mu.Lock()
	if len(l.warm) == 0 {
		l.mu.Unlock()
		return
	}
	c := l.warm[l.nextWarm%len(l.warm)]
	l.nextWarm++
	l.mu.Unlock()
	start := time.Now()
	tok, r := l.api.token(c.agentID, c.secret)
	l.note(kindToken, "/oauth2/token", start, r)
	l.keepToken(tok, c.agentID)
}

// issueFirst uses a credential nobody has used yet: the token service
// cannot have it cached and must ask the credentials service.
func (l *load) issueFirst(*mrand.Rand) {
	l.mu.Lock()
	if len(l.fresh) == 0 {
		l.mu.Unlock()
		return
	}
	c := l.fresh[0]
	l.fresh = l.fresh[1:]
	l.mu.Unlock()
	start := time.Now()
	tok, r := l.api.token(c.agentID, c.secret)
	l.note(kindTokenFirst, "/oauth2/token", start, r)
	l.keepToken(tok, c.agentID)
	l.mu.Lock()
	if r.ok() {
		l.warm = append(l.warm, c)
	} else {
		// Try it again later: every credential's first use must succeed
		// in the end.
		l.fresh = append(l.fresh, c)
	}
	l.mu.Unlock()
}

func (l *load) keepToken(tok, agentID string) {
	if tok == "" {
		return
	}
	l.mu.Lock()
	l.tokens = append(l.tokens, issued{jti: jti(tok), agentID: agentID, at: time.Now()})
	l.mu.Unlock()
}

func (l *load) read(rng *mrand.Rand, tok string) {
	id, ok := pick(rng, &l.mu, &l.agents)
	if !ok {
		return
	}
	path := "/v1/agents/" + id
	start := time.Now()
	l.note(kindRead, path, start, l.api.do("GET", path, tok, nil))
}

func (l *load) register(*mrand.Rand) {
	path := "/v1/agents?requestId=" + randomID()
	start := time.Now()
	r := l.api.do("POST", path, l.adminToken, newAgent("chaos-"+*l.phase.Load()))
	l.note(kindRegister, "/v1/agents", start, r)
	var a struct {
		AgentID string `json:"agentId"`
	}
	if r.json(&a) == nil && a.AgentID != "" {
		l.mu.Lock()
		l.agents = append(l.agents, a.AgentID)
		l.mu.Unlock()
	}
}

func (l *load) createCredential(rng *mrand.Rand) {
	id, ok := pick(rng, &l.mu, &l.agents)
	if !ok {
		return
	}
	path := "/v1/agents/" + id + "/credentials"
	start := time.Now()
	r := l.api.do("POST", path, l.adminToken, map[string]any{})
	l.note(kindCredential, "/v1/agents/{id}/credentials", start, r)
	var c struct {
		ClientSecret string `json:"clientSecret"`
		Credential   struct {
			CredentialID string `json:"credentialId"`
		} `json:"credential"`
	}
	if r.json(&c) == nil && c.Credential.CredentialID != "" {
		cred := credential{agentID: id, credentialID: c.Credential.CredentialID, secret: c.ClientSecret, during: *l.phase.Load()}
		l.mu.Lock()
		l.created = append(l.created, cred)
		l.fresh = append(l.fresh, cred)
		l.mu.Unlock()
	}
}

func (l *load) queryAudit(rng *mrand.Rand) {
	id, ok := pick(rng, &l.mu, &l.agents)
	if !ok {
		return
	}
	path := "/v1/audit/events?pageSize=5&agentId=" + id
	start := time.Now()
	l.note(kindAudit, "/v1/audit/events", start, l.api.do("GET", path, l.adminToken, nil))
}

// healthySince reports whether every kind of request has succeeded since t
// and nothing has failed for quiet.
func (l *load) healthySince(t time.Time, quiet time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range kinds {
		if !l.lastOK[k].After(t) {
			return fmt.Errorf("no %s request has succeeded yet", k)
		}
	}
	if since := time.Since(l.lastFail); since < quiet {
		return fmt.Errorf("the last failure was %s ago", since.Round(time.Millisecond))
	}
	return nil
}

// snapshot copies what the load saw.
func (l *load) snapshot() (records []record, agents []string, creds []credential, tokens []issued) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]record(nil), l.records...), append([]string(nil), l.agents...),
		append([]credential(nil), l.created...), append([]issued(nil), l.tokens...)
}

func newAgent(name string) map[string]any {
	if len(name) > 100 {
		name = name[:100]
	}
	return map[string]any{
		"name": name, "owner": "team-chaos", "agentType": "assistant", "version": "1.0.0",
		"scopes": []string{"agents:read"}, "capabilities": []string{"web.search"},
	}
}

// randomID is a fresh idempotency key for one registration.
func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
