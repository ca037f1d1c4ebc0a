package clientauth

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// unknownClients is the replica's negative cache: client ids that name no
// agent, so that a client (or a guesser) repeating one costs no
// credentials-service lookup. An id enters only when the credentials
// service refused it while this replica followed both feeds and its agent
// projection had no such agent; it leaves when an event about the agent or
// a credential created for it arrives (Forget), after ttl, or when newer
// ids push it out (size). A lookup that started before a Forget does not
// store what it concluded (generation).
type unknownClients struct {
	lru *expirable.LRU[string, struct{}]

	mu  sync.Mutex // orders add against forget
	gen uint64
}

func newUnknownClients(size int, ttl time.Duration) *unknownClients {
	return &unknownClients{lru: expirable.NewLRU[string, struct{}](size, nil, ttl)}
}

// has reports whether clientID is known to be unknown.
func (u *unknownClients) has(clientID string) bool {
	_, ok := u.lru.Get(clientID)
	return ok
}

// generation is read before asking about a client and passed to add.
func (u *unknownClients) generation() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.gen
}

// add records clientID unless anything was forgotten since gen was read
// (coarser than per client, and forgetting is rare: one event).
func (u *unknownClients) add(clientID string, gen uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.gen == gen {
		u.lru.Add(clientID, struct{}{})
	}
}

func (u *unknownClients) forget(clientID string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.gen++
	u.lru.Remove(clientID)
}
