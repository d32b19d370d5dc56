package emulator

import (
	"container/list"
	"sync"
)

// payloadCache keeps encoded ReadRows payloads, least recently used evicted first, bounded by the
// total size of the payloads. It is safe for concurrent use.
type payloadCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	order *list.List // front = most recently used; values are *cacheEntry
	items map[string]*list.Element
}

type cacheEntry struct {
	key     string
	payload []byte
	rows    int64
	end     int64 // the unfiltered row after the payload's last
}

func newPayloadCache(maxBytes int64) *payloadCache {
	return &payloadCache{max: maxBytes, order: list.New(), items: map[string]*list.Element{}}
}

// get returns a cached payload, its row count and the unfiltered row after its last. Callers must
// not modify the payload.
func (c *payloadCache) get(key string) ([]byte, int64, int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil, 0, 0, false
	}
	c.order.MoveToFront(e)
	ce := e.Value.(*cacheEntry)
	return ce.payload, ce.rows, ce.end, true
}

// put stores a payload unless it alone exceeds the bound, evicting old entries to make room.
func (c *payloadCache) put(key string, payload []byte, rows, end int64) {
	n := int64(len(payload))
	if n > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; ok {
		return
	}
	for c.size+n > c.max {
		old := c.order.Back()
		ce := old.Value.(*cacheEntry)
		c.order.Remove(old)
		delete(c.items, ce.key)
		c.size -= int64(len(ce.payload))
	}
	c.items[key] = c.order.PushFront(&cacheEntry{key: key, payload: payload, rows: rows, end: end})
	c.size += n
}
