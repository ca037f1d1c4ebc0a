// Package redisacl is who may do what in AgentIdP's Redis: one ACL user per
// service that uses it, with only the commands and key patterns that
// service uses, and the operators' user. Every deployment renders its ACL
// from these rules (the local stack's users.acl, compose's, the ElastiCache
// access strings in Terraform: deploy/checks holds them to this package),
// so deleting a revocation key or rewriting another service's keys fails
// for every service but the one whose job it is.
package redisacl

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// A User is one Redis ACL user.
type User struct {
	// Name is the ACL user name (the service's name).
	Name string
	// Keys may be read and written; ReadKeys only read; WriteKeys only
	// written (Redis 7 key permissions ~, %R~, %W~). Glob patterns.
	Keys, ReadKeys, WriteKeys []string
	// Channels are the pub/sub channels it may publish or subscribe to.
	Channels []string
	// Commands are allowed one by one (or "cmd|subcommand"); every user
	// also gets what a client needs to connect (HELLO, AUTH, PING, SELECT,
	// CLIENT SETNAME), never an administrative command.
	Commands []string
}

// connect is what every client needs: go-redis says HELLO (with AUTH) and
// selects the database in the URL. (It also tries CLIENT SETINFO, which
// Redis 7.0 does not have and a NOPERM answers the same: go-redis ignores
// both.)
var connect = []string{"hello", "auth", "ping", "echo", "select", "client|setname", "client|getname", "client|id", "quit"}

// scripting is what a service running Lua scripts through go-redis needs:
// EVALSHA, then EVAL when the script is not loaded yet, and inside the
// scripts only the commands the user is allowed anyway (GET, SET, TIME).
var scripting = []string{"evalsha", "eval", "script|load", "script|exists", "time"}

// The revocation record and channel (libs/revocation), the audit stream
// (libs/auditlog; its dead letters are the stream's name + ":dead").
const (
	revoked     = "agentidp:revoked:*"
	revocations = "agentidp:revocations"
	auditStream = "agentidp:audit"
)

// Services are the users of the services that use Redis.
var Services = []User{
	{
		// The hot path's cache, rate limits and projection (tok:*), the
		// revocation record it writes and announces, the audit events it
		// emits.
		Name:      "token",
		Keys:      []string{"tok:*", revoked},
		WriteKeys: []string{auditStream},
		Channels:  []string{revocations},
		Commands: append(append([]string{"get", "set", "del", "exists", "mget", "pttl", "publish", "xadd",
			"multi", "exec", "discard"}, scripting...), connect...), // a revocation is SET and PUBLISH in one MULTI
	},
	{
		// Its rate limits (authz:*); the revocation record it only reads
		// (it must not be able to un-revoke a token) and the channel it
		// listens to; the denials it audits.
		Name:      "authz",
		Keys:      []string{"authz:*"},
		ReadKeys:  []string{revoked},
		WriteKeys: []string{auditStream},
		Channels:  []string{revocations},
		Commands:  append(append([]string{"get", "set", "mget", "exists", "subscribe", "unsubscribe", "xadd"}, scripting...), connect...),
	},
	{
		// The audit stream's consumer group: read, acknowledge, delete
		// stored entries, move dead letters aside.
		Name: "audit",
		Keys: []string{auditStream, auditStream + ":*"},
		Commands: append([]string{"xgroup|create", "xgroup|createconsumer", "xreadgroup", "xack", "xautoclaim",
			"xclaim", "xpending", "xinfo|groups", "xinfo|stream", "xlen", "xdel", "xadd"}, connect...),
	},
}

// Operator is the operators' user: everything (tests and humans who
// inspect or repair the data). Services never use it.
const Operator = "operator"

// Lookup returns the user of service name.
func Lookup(name string) (User, bool) {
	i := slices.IndexFunc(Services, func(u User) bool { return u.Name == name })
	if i < 0 {
		return User{}, false
	}
	return Services[i], true
}

// Rules renders u's ACL rules without the password: "on ~tok:* … +get …",
// the form of a users.acl line after "user <name>" and of an ElastiCache
// access string. Patterns and commands keep their order.
func (u User) Rules() string {
	var b strings.Builder
	b.WriteString("on resetkeys resetchannels -@all")
	for _, k := range u.Keys {
		b.WriteString(" ~" + k)
	}
	for _, k := range u.ReadKeys {
		b.WriteString(" %R~" + k)
	}
	for _, k := range u.WriteKeys {
		b.WriteString(" %W~" + k)
	}
	for _, c := range u.Channels {
		b.WriteString(" &" + c)
	}
	for _, c := range u.Commands {
		b.WriteString(" +" + c)
	}
	return b.String()
}

// AccessString is u's rules as an ElastiCache RBAC access string: the same
// without the resets (ElastiCache refuses them; a new user starts empty).
func (u User) AccessString() string {
	return strings.Replace(u.Rules(), "on resetkeys resetchannels ", "on ", 1)
}

// OperatorRules are the operators' rules: every key, channel and command.
const OperatorRules = "on ~* &* +@all"

// File renders a users.acl: the default user off (no unauthenticated
// client), each service's user and the operator, each with the SHA-256 of
// its password (the file never holds a password). passwords maps a user
// name to its password; every user in Services and Operator needs one.
func File(passwords map[string]string) (string, error) {
	var b strings.Builder
	b.WriteString("user default off resetkeys resetchannels -@all\n")
	for _, u := range Services {
		p, ok := passwords[u.Name]
		if !ok || p == "" {
			return "", fmt.Errorf("redisacl: no password for %s", u.Name)
		}
		fmt.Fprintf(&b, "user %s %s #%s\n", u.Name, u.Rules(), hash(p))
	}
	p, ok := passwords[Operator]
	if !ok || p == "" {
		return "", fmt.Errorf("redisacl: no password for %s", Operator)
	}
	fmt.Fprintf(&b, "user %s %s #%s\n", Operator, OperatorRules, hash(p))
	return b.String(), nil
}

func hash(p string) string {
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:])
}

// Passwords returns a fresh random password (256 bits) for every user.
func Passwords() map[string]string {
	out := map[string]string{}
	for _, name := range append(Names(), Operator) {
		var b [32]byte
		_, _ = rand.Read(b[:])
		out[name] = hex.EncodeToString(b[:])
	}
	return out
}

// Names are the service users' names.
func Names() []string {
	names := make([]string, len(Services))
	for i, u := range Services {
		names[i] = u.Name
	}
	return names
}

// URL returns the redis:// URL of addr (host:port) and database db as
// user with password.
func URL(addr string, db int, user, password string) string {
	u := url.URL{Scheme: "redis", User: url.UserPassword(user, password), Host: addr, Path: fmt.Sprintf("/%d", db)}
	return u.String()
}
