package redis

import (
	"context"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// The Lua scripts below are the only writers of Arus keys besides plain
// deletions. Each runs atomically in Redis. Errors they raise start with
// "ARUS_" and are turned into stream errors by the caller.

// luaPrelude holds helpers shared by the scripts.
const luaPrelude = `
local function fmt(n) return string.format('%d', n) end
local function eid(o) return '0-' .. string.format('%d', o + 1) end
local function eoff(id) return tonumber(string.sub(id, 3)) - 1 end
-- bounds returns the start and end offsets of partition p.
local function bounds(meta, s, p)
  local e = tonumber(redis.call('HGET', meta, 'n' .. p) or '0')
  return e - redis.call('XLEN', s), e
end
-- idxAt returns the newest timestamp so far and the bytes written before the
-- batch that holds offset o, or nil when the index has no such batch.
local function idxAt(idx, o)
  local r = redis.call('XREVRANGE', idx, eid(o), '-', 'COUNT', 1)
  if #r == 0 then return nil, 0 end
  local f = r[1][2]
  return f[2], tonumber(f[4])
end
-- first returns the smallest x in [lo, hi] for which the monotone ok(x)
-- holds, or hi+1 when there is none.
local function first(lo, hi, ok)
  while lo <= hi do
    local mid = math.floor((lo + hi) / 2)
    if ok(mid) then hi = mid - 1 else lo = mid + 1 end
  end
  return lo
end
`

// ensureTopicLua creates a topic unless it exists and returns its partition
// count. KEYS: meta, topic registry. ARGV: name, partitions, retention time
// in ns, retention bytes, "1" to fail when the topic exists.
const ensureTopicLua = `
local cur = redis.call('HGET', KEYS[1], 'partitions')
if cur then
  if ARGV[5] == '1' then return redis.error_reply('ARUS_EXISTS') end
  return tonumber(cur)
end
redis.call('HSET', KEYS[1], 'partitions', ARGV[2], 'rtime', ARGV[3], 'rbytes', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
return tonumber(ARGV[2])
`

// produceLua appends a batch of records to one partition and returns the
// offset of the first. It fails with ARUS_NOTOPIC when the topic does not
// exist and ARUS_STALE when it has another partition count than the caller
// assumed; either way nothing is written.
// KEYS: meta, partition stream, partition index. ARGV: partitions,
// partition, newest timestamp of the batch, bytes of the batch, then the
// "r2" field of each record.
const produceLua = luaPrelude + `
local p = ARGV[2]
local meta = redis.call('HMGET', KEYS[1], 'partitions', 'm' .. p, 'b' .. p)
if not meta[1] then return redis.error_reply('ARUS_NOTOPIC') end
if meta[1] ~= ARGV[1] then return redis.error_reply('ARUS_STALE ' .. meta[1]) end
local m = meta[2] or ''
if ARGV[3] > m then m = ARGV[3] end
local b = tonumber(meta[3] or '0')
local call, key, argv, n = redis.call, KEYS[2], ARGV, #ARGV
local head = call('XADD', key, '0-*', 'r2', argv[5])
for j = 6, n do
  call('XADD', key, '0-*', 'r2', argv[j])
end
-- The script runs alone, so the batch's offsets are consecutive.
local first = eoff(head)
redis.call('XADD', KEYS[3], head, 'm', m, 'b', fmt(b))
redis.call('HSET', KEYS[1], 'm' .. p, m, 'b' .. p, fmt(b + tonumber(ARGV[4])), 'n' .. p, fmt(first + n - 4))
return first
`

// membershipLua records a member's heartbeat (or its leaving), drops
// members whose heartbeat expired, and returns the membership generation
// followed by each live member instance and its subscription.
// KEYS: members, subscriptions, generation. ARGV: instance, TTL in ms,
// subscription, "beat" or "leave".
const membershipLua = luaPrelude + `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local changed = false
if ARGV[4] == 'leave' then
  if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then changed = true end
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  if redis.call('ZADD', KEYS[1], fmt(now + tonumber(ARGV[2])), ARGV[1]) == 1 then changed = true end
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', fmt(now))
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now))
  redis.call('HDEL', KEYS[2], unpack(dead))
  changed = true
end
local gen
if changed then gen = redis.call('INCR', KEYS[3]) else gen = tonumber(redis.call('GET', KEYS[3]) or '0') end
local out = {gen}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[#out+1] = m
  out[#out+1] = redis.call('HGET', KEYS[2], m) or ''
end
return out
`

// acquireLua takes the lease of a partition for a member unless another
// member holds it, registers the group, sets the group's starting offset
// when it has none, makes sure the Redis consumer group exists, and
// acknowledges the pending entries below the committed offset. It returns
// {0} when the lease is held by another member, else {epoch, committed
// offset, offset of the last entry delivered to the Redis group}.
// KEYS: lease, epoch counter, offsets, stream, meta, group registry, the group's
// topics, the topic's groups. ARGV: instance, TTL in ms, partition,
// "latest" or "earliest", group, topic.
const acquireLua = luaPrelude + `
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^%d+|(.*)$') ~= ARGV[1] then return {0} end
if redis.call('HEXISTS', KEYS[5], 'partitions') == 0 then return redis.error_reply('ARUS_NOTOPIC') end
local p = ARGV[3]
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], fmt(epoch) .. '|' .. ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[6], ARGV[5])
redis.call('SADD', KEYS[7], ARGV[6])
redis.call('SADD', KEYS[8], ARGV[5])
local start, e = bounds(KEYS[5], KEYS[4], p)
local c = redis.call('HGET', KEYS[3], p)
if c then
  c = tonumber(c)
else
  if ARGV[4] == 'latest' then c = e else c = start end
  redis.call('HSET', KEYS[3], p, fmt(c))
end
redis.pcall('XGROUP', 'CREATE', KEYS[4], ARGV[5], eid(c - 1), 'MKSTREAM')
local delivered = c - 1
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[4])) do
  local name, ld
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i+1] elseif g[i] == 'last-delivered-id' then ld = g[i+1] end
  end
  if name == ARGV[5] and ld then delivered = eoff(ld) end
end
if delivered < c - 1 then
  redis.call('XGROUP', 'SETID', KEYS[4], ARGV[5], eid(c - 1))
  delivered = c - 1
end
-- Arus reads without acknowledgement, so the group's pending list is
-- normally empty; entries below the committed offset that a version reading
-- with acknowledgement, or another reader of the Redis group, left pending
-- are acknowledged now, and the commits acknowledge the rest.
for _ = 1, 10 do
  local pend = redis.call('XPENDING', KEYS[4], ARGV[5], '-', eid(c - 1), 1000)
  if #pend == 0 then break end
  local ids = {}
  for i, e in ipairs(pend) do ids[i] = e[1] end
  redis.call('XACK', KEYS[4], ARGV[5], unpack(ids))
end
return {epoch, c, delivered}
`

// renewLua extends the leases a member still holds and returns 1 for each
// renewed and 0 for each lost. KEYS: leases. ARGV: TTL in ms, then the
// member's token for each lease.
const renewLua = `
local out = {}
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[i + 1] then
    redis.call('PEXPIRE', k, ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`

// commitLua commits offset "to" for a partition and drops the lease when
// asked, only while the caller holds the lease (ARUS_FENCED otherwise). It
// acknowledges the entries from "from" up to "to" that are in the group's
// pending list: none, unless a version that read with acknowledgement or
// another reader of the Redis group left them there. It returns the group's
// membership generation, so that a busy member learns of a membership
// change with its next commit.
// KEYS: lease, offsets, stream, generation. ARGV: token, partition, from,
// to, group, "1" to release the lease.
const commitLua = luaPrelude + `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('ARUS_FENCED') end
local from, to = tonumber(ARGV[3]), tonumber(ARGV[4])
if to > from then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
  while true do
    local pend = redis.call('XPENDING', KEYS[3], ARGV[5], eid(from), eid(to - 1), 500)
    if #pend == 0 then break end
    local ids = {}
    for i, e in ipairs(pend) do ids[i] = e[1] end
    redis.call('XACK', KEYS[3], ARGV[5], unpack(ids))
  end
end
if ARGV[6] == '1' then redis.call('DEL', KEYS[1]) end
return tonumber(redis.call('GET', KEYS[4]) or '0')
`

// resetLua moves a group's committed offsets on one topic, unless the
// group has live members (ARUS_ACTIVE), and recreates the Redis consumer
// group of each partition at the new position. An exact offset outside a
// partition's bounds fails the whole reset (ARUS_RANGE partition start
// end). It returns the new offsets.
// KEYS: members, offsets, meta, group registry, the group's topics, the
// topic's groups, then one stream per partition. ARGV: group, topic, mode
// ("earliest", "latest", "time", "offset"), then partition and value pairs.
const resetLua = luaPrelude + `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZCOUNT', KEYS[1], '(' .. fmt(now), '+inf') > 0 then return redis.error_reply('ARUS_ACTIVE') end
local mode = ARGV[3]
local targets = {}
for i = 7, #KEYS do
  local p, v = ARGV[4 + (i - 7) * 2], ARGV[5 + (i - 7) * 2]
  local start, e = bounds(KEYS[3], KEYS[i], p)
  local c
  if mode == 'earliest' then c = start
  elseif mode == 'latest' then c = e
  elseif mode == 'time' then c = math.max(start, math.min(e, tonumber(v)))
  else
    c = tonumber(v)
    if c < start or c > e then return redis.error_reply('ARUS_RANGE ' .. p .. ' ' .. fmt(start) .. ' ' .. fmt(e)) end
  end
  targets[#targets + 1] = c
end
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[2])
redis.call('SADD', KEYS[6], ARGV[1])
for i = 7, #KEYS do
  local c = targets[i - 6]
  redis.call('HSET', KEYS[2], ARGV[4 + (i - 7) * 2], fmt(c))
  redis.pcall('XGROUP', 'DESTROY', KEYS[i], ARGV[1])
  redis.call('XGROUP', 'CREATE', KEYS[i], ARGV[1], eid(c - 1), 'MKSTREAM')
end
return targets
`

// deleteGroupLua forgets a group unless it has live members (ARUS_ACTIVE)
// or is unknown (ARUS_NOGROUP).
// KEYS: members, group registry, then ARGV[2] keys to delete, then ARGV[3]
// sets to remove the group from, then the streams whose Redis consumer group
// goes too. ARGV: group, number of keys to delete, number of sets.
const deleteGroupLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%d', now), '+inf') > 0 then return redis.error_reply('ARUS_ACTIVE') end
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return redis.error_reply('ARUS_NOGROUP') end
local ndel, nset = tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 3, 2 + ndel do redis.call('DEL', KEYS[i]) end
for i = 3 + ndel, 2 + ndel + nset do redis.call('SREM', KEYS[i], ARGV[1]) end
for i = 3 + ndel + nset, #KEYS do redis.pcall('XGROUP', 'DESTROY', KEYS[i], ARGV[1]) end
redis.call('DEL', KEYS[1])
return 1
`

// retainLua applies retention to one partition: it deletes the oldest
// records older than the cutoff or beyond the byte limit, never past the
// smallest committed offset of the given groups, unless the hard cap forces
// it. It returns {records deleted, unconsumed records the hard cap forced
// out}.
// KEYS: meta, stream, index, then the offsets hash of each registered
// group. ARGV: partition, cutoff timestamp ("" for none), retention bytes
// (0 for none), hard cap bytes (0 for none).
const retainLua = luaPrelude + `
local p = ARGV[1]
local start, e = bounds(KEYS[1], KEYS[2], p)
if e <= start then return {0, 0} end
local minc = e
for i = 4, #KEYS do
  local c = redis.call('HGET', KEYS[i], p)
  if c then c = tonumber(c) else c = start end
  if c < minc then minc = c end
end
local total = tonumber(redis.call('HGET', KEYS[1], 'b' .. p) or '0')
local function within(limit)
  return function(x)
    if x >= e then return true end
    local m, b = idxAt(KEYS[3], x)
    return m == nil or total - b <= limit
  end
end
local target = start
if ARGV[2] ~= '' then
  local o = first(start, e - 1, function(x)
    local m = idxAt(KEYS[3], x)
    return m == nil or m >= ARGV[2]
  end)
  -- The batch at o holds the first record at or after the cutoff; the
  -- records before it in that batch are older and may go too.
  local lim = math.min(minc, e)
  local scanned = 0
  while o < lim and scanned < 10000 do
    local rs = redis.call('XRANGE', KEYS[2], eid(o), eid(lim - 1), 'COUNT', 100)
    if #rs == 0 then break end
    local found = false
    for _, r in ipairs(rs) do
      local f = r[2][1]
      if (f == 'r2' or f == 'r1' or f == 'r') and string.sub(r[2][2], 1, 20) >= ARGV[2] then found = true; break end
      o = eoff(r[1]) + 1
    end
    scanned = scanned + #rs
    if found then break end
  end
  if o > target then target = o end
end
local rb = tonumber(ARGV[3])
if rb > 0 then
  local o = first(start, e, within(rb))
  if o > target then target = o end
end
if target > minc then target = minc end
local forced = 0
local cap = tonumber(ARGV[4])
if cap > 0 then
  local o = first(start, e, within(cap))
  if o > target then
    forced = math.max(0, o - math.max(minc, start))
    target = o
  end
end
if target <= start then return {0, 0} end
redis.call('XTRIM', KEYS[2], 'MINID', eid(target))
local r = redis.call('XREVRANGE', KEYS[3], eid(target), '-', 'COUNT', 1)
if #r > 0 then redis.call('XTRIM', KEYS[3], 'MINID', r[1][1]) end
return {target - start, forced}
`

// timeLua returns {the first offset of the first batch whose newest
// timestamp so far is at or after t, end offset}; the first record at or
// after t lies at or after that offset. KEYS: meta, stream, index.
// ARGV: partition, timestamp.
const timeLua = luaPrelude + `
local start, e = bounds(KEYS[1], KEYS[2], ARGV[1])
local o = first(start, e - 1, function(x)
  local m = idxAt(KEYS[3], x)
  return m == nil or m >= ARGV[2]
end)
return {o, e}
`

// scripts holds the loaded scripts of a broker.
type scripts struct {
	ensureTopic, produce, membership, acquire, renew, commit, reset, deleteGroup, retain, offsetForTime *goredis.Script
}

func newScripts() *scripts {
	return &scripts{
		ensureTopic:   goredis.NewScript(ensureTopicLua),
		produce:       goredis.NewScript(produceLua),
		membership:    goredis.NewScript(membershipLua),
		acquire:       goredis.NewScript(acquireLua),
		renew:         goredis.NewScript(renewLua),
		commit:        goredis.NewScript(commitLua),
		reset:         goredis.NewScript(resetLua),
		deleteGroup:   goredis.NewScript(deleteGroupLua),
		retain:        goredis.NewScript(retainLua),
		offsetForTime: goredis.NewScript(timeLua),
	}
}

func (s *scripts) all() []*goredis.Script {
	return []*goredis.Script{s.ensureTopic, s.produce, s.membership, s.acquire, s.renew, s.commit, s.reset, s.deleteGroup, s.retain, s.offsetForTime}
}

// load loads every script into the server's script cache, so that
// pipelines can call them by hash.
func (s *scripts) load(ctx context.Context, c goredis.Scripter) error {
	for _, sc := range s.all() {
		if err := sc.Load(ctx, c).Err(); err != nil {
			return err
		}
	}
	return nil
}

// scriptError reports whether err is the script error named code (such as
// "ARUS_FENCED") and returns the rest of its message.
func scriptError(err error, code string) (string, bool) {
	if err == nil {
		return "", false
	}
	msg := strings.TrimPrefix(err.Error(), "ERR ")
	if !strings.HasPrefix(msg, code) {
		return "", false
	}
	return strings.TrimSpace(strings.TrimPrefix(msg, code)), true
}

// isNoScript reports whether a script call failed because the server lost
// its script cache.
func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}
