package redis

import (
	"context"
	"errors"
	"strconv"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// ErrProjectionLost: Redis no longer holds a cursor it held, so it lost
// its data (a restart without persistence, a flush); the follower must
// replay its feed from the start to rebuild the projection.
var ErrProjectionLost = errors.New("redis lost the feed cursor (and with it the projection); replaying the feed")

// Cursor is a feed cursor shared by every replica (they all follow the
// same feeds into the same Redis; handling an event twice is harmless).
// It implements libs/feed.Cursor.
type Cursor struct {
	store *Store
	feed  string

	mu sync.Mutex
	// present: this cursor was seen in Redis, so its disappearing means
	// data loss rather than a first start.
	present bool
}

// Cursor returns the cursor of feed ("agents", "credentials").
func (s *Store) Cursor(feed string) *Cursor { return &Cursor{store: s, feed: feed} }

// Load returns the last handled sequence, or 0 (replay everything).
func (c *Cursor) Load(ctx context.Context) (int64, error) {
	v, err := c.store.rdb.Get(ctx, cursorKey(c.feed)).Int64()
	if errors.Is(err, goredis.Nil) {
		c.setPresent(false)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	c.setPresent(true)
	return v, nil
}

// saveScript raises the cursor to ARGV[1]; with ARGV[2] = 1 it refuses
// (returns -1) when the cursor is missing.
var saveScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then
  if ARGV[2] == '1' then return -1 end
elseif tonumber(cur) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

// Save raises the cursor to sequence (never lowers it).
func (c *Cursor) Save(ctx context.Context, sequence int64) error {
	c.mu.Lock()
	mustExist := c.present
	c.mu.Unlock()
	flag := "0"
	if mustExist {
		flag = "1"
	}
	n, err := saveScript.Run(ctx, c.store.rdb, []string{cursorKey(c.feed)}, strconv.FormatInt(sequence, 10), flag).Int64()
	if err != nil {
		return err
	}
	if n < 0 {
		c.setPresent(false)
		return ErrProjectionLost
	}
	c.setPresent(true)
	return nil
}

func (c *Cursor) setPresent(p bool) {
	c.mu.Lock()
	c.present = p
	c.mu.Unlock()
}
