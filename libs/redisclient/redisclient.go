// Package redisclient opens instrumented go-redis/v9 clients.
package redisclient

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/libs/metrics"
)

// Open parses a redis:// URL, connects and pings, so a wrong address fails
// at start-up. Command latency goes to agentidp_redis_command_duration_seconds
// when store is not nil.
func Open(ctx context.Context, url string, store *metrics.Store) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: the URL is malformed") // it may hold a password
	}
	client := redis.NewClient(opts)
	if store != nil {
		client.AddHook(hook{store})
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redis: cannot reach %s: %w", opts.Addr, err)
	}
	return client, nil
}

type hook struct{ store *metrics.Store }

func (h hook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.store.RedisCommand.WithLabelValues(cmd.Name()).Observe(time.Since(start).Seconds())
		return err
	}
}

func (h hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.store.RedisCommand.WithLabelValues("pipeline").Observe(time.Since(start).Seconds())
		return err
	}
}
