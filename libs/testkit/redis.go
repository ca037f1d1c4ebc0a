package testkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Redis is a redis-server from the Debian package.
type Redis struct {
	Port int
	proc *Process
	cfg  RedisConfig // for Restart
}

// RedisConfig describes a server to start.
type RedisConfig struct {
	Dir     string // working directory (and the AOF file when Durable)
	Port    int    // 0 picks a free one
	LogPath string // empty means Dir/redis.log
	// Durable turns on the append-only file (the dev stack); tests keep
	// everything in memory.
	Durable bool
	// ACLFile, if set, is the users.acl the server loads (libs/redisacl):
	// every client must then authenticate as one of its users.
	ACLFile string
}

// RedisBinary finds redis-server: $AGENTIDP_REDIS_BIN or PATH.
func RedisBinary() (string, error) {
	if b := os.Getenv("AGENTIDP_REDIS_BIN"); b != "" {
		return b, nil
	}
	for _, c := range []string{"redis-server", "/usr/bin/redis-server"} {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", errors.New("redis-server not found (install the Debian package redis-server, or set AGENTIDP_REDIS_BIN)")
}

// StartRedis starts a server and waits until it answers.
func StartRedis(ctx context.Context, cfg RedisConfig) (*Redis, error) {
	bin, err := RedisBinary()
	if err != nil {
		return nil, err
	}
	if cfg.Port == 0 {
		if cfg.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	if cfg.LogPath == "" {
		cfg.LogPath = filepath.Join(cfg.Dir, "redis.log")
	}
	args := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(cfg.Port), "--dir", cfg.Dir,
		"--save", "", "--daemonize", "no", "--protected-mode", "yes"}
	if cfg.Durable {
		args = append(args, "--appendonly", "yes")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if cfg.ACLFile != "" {
		args = append(args, "--aclfile", cfg.ACLFile)
	}
	proc, err := StartProcess(exec.Command(bin, args...), cfg.LogPath)
	if err != nil {
		return nil, err
	}
	r := &Redis{Port: cfg.Port, proc: proc, cfg: cfg}
	if err := WaitTCP(ctx, Addr(cfg.Port), 15*time.Second); err != nil {
		r.Stop()
		log, _ := os.ReadFile(cfg.LogPath)
		return nil, fmt.Errorf("redis did not start: %w\n%s", err, tail(string(log), 2000))
	}
	return r, nil
}

// URL returns the redis:// URL of logical database db.
func (r *Redis) URL(db int) string { return fmt.Sprintf("redis://127.0.0.1:%d/%d", r.Port, db) }

// PID is the server's process id (resource reports read /proc/PID).
func (r *Redis) PID() int {
	if r == nil {
		return 0
	}
	return r.proc.PID()
}

// Stop shuts the server down.
func (r *Redis) Stop() {
	if r != nil {
		r.proc.Stop(syscall.SIGTERM, 5*time.Second)
	}
}

// Kill ends the server at once (SIGKILL), as a crash would.
func (r *Redis) Kill() {
	if r != nil {
		r.proc.Stop(syscall.SIGKILL, time.Second)
	}
}

// Restart starts a stopped or killed server again on the same port and
// directory. A Durable server reloads its append-only file; any other comes
// back empty.
func (r *Redis) Restart(ctx context.Context) error {
	nr, err := StartRedis(ctx, r.cfg)
	if err != nil {
		return err
	}
	r.proc = nr.proc
	return nil
}
