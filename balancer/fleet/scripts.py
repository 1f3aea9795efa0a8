"""The fleet's atomic steps, as Redis Lua scripts (each runs without interleaving any
other command, so every check and the write it guards are one step).

``START``: a migration starts only if the VM has no run, is on ``source``, and both hosts
are on (a booting host counts once ready); a non-live move of a running guest pauses it.
``EVENT``: a ladder event is appended to the run it was meant for, never to a later run.
``FINISH``: a run ends (lands or aborts) only if its stored text is still the one the
caller replayed; landing moves the VM's one placement field, its host sets and the moves
stream together, and only if the VM is still on the run's source.
``POWER_ON`` / ``POWER_OFF``: an off host starts booting; a host is switched off only with
no VM on it and no migration from or to it. ``MARK``: the epoch of the migration that
moved a VM, kept only if the VM is on that host. ``GUEST``: pause or resume a guest that
is not migrating. ``BOOTED``: a booting host that is ready
is recorded ``on`` (compare-and-set).
"""

from __future__ import annotations

_USABLE = """
local function usable(raw, now)
  if not raw then return false end
  local p = cjson.decode(raw)
  if p.state == 'on' then return true end
  return p.state == 'booting' and p.ready_at ~= nil and tonumber(p.ready_at) <= tonumber(now)
end
"""

#: KEYS runs, placement, power, vm-state; ARGV vm, source, dest, run text, now, pause.
#: Returns {verdict, detail}: ok | busy | unknown | elsewhere <host> | source-off | dest-off.
START = (
    _USABLE
    + """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'busy', ''} end
local at = redis.call('HGET', KEYS[2], ARGV[1])
if not at then return {'unknown', ''} end
if at ~= ARGV[2] then return {'elsewhere', at} end
if not usable(redis.call('HGET', KEYS[3], ARGV[2]), ARGV[5]) then return {'source-off', ''} end
if not usable(redis.call('HGET', KEYS[3], ARGV[3]), ARGV[5]) then return {'dest-off', ''} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
if ARGV[6] == '1' then redis.call('HSET', KEYS[4], ARGV[1], 'paused') end
return {'ok', ''}
"""
)

#: KEYS runs, vm-state; ARGV vm, run id, event line, guest state after (paused|running|'').
#: Returns 1, or 0 when the run is no longer the current one.
EVENT = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur or string.sub(cur, 1, #ARGV[2] + 1) ~= ARGV[2] .. ' ' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], cur .. '\\n' .. ARGV[3])
if ARGV[4] == 'paused' then redis.call('HSET', KEYS[2], ARGV[1], 'paused')
elseif ARGV[4] == 'running' then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1
"""

#: KEYS runs, placement, source set, dest set, ended, moves, vm-state;
#: ARGV vm, run text replayed, landed (1|0), ended JSON, source, dest, guest state after,
#: moves MAXLEN. Returns landed | aborted | lost (the VM had left its source: nothing
#: moves) | changed (the run is not the text replayed: replay again).
FINISH = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 'changed' end
redis.call('HDEL', KEYS[1], ARGV[1])
local result = 'aborted'
if ARGV[3] == '1' then
  if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[5] then
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[6])
    redis.call('SREM', KEYS[3], ARGV[1])
    redis.call('SADD', KEYS[4], ARGV[1])
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[8], '*',
               'vm', ARGV[1], 'source', ARGV[5], 'dest', ARGV[6])
    result = 'landed'
  else
    result = 'lost'
  end
end
if result ~= 'lost' then
  if ARGV[7] == 'running' then redis.call('HDEL', KEYS[7], ARGV[1])
  else redis.call('HSET', KEYS[7], ARGV[1], ARGV[7]) end
end
redis.call('HSET', KEYS[5], ARGV[1], result .. '\\n' .. ARGV[4])
return result
"""

#: KEYS power; ARGV host, booting JSON. Returns booting, or the state it stays in
#: (on | booting), or unknown.
POWER_ON = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 'unknown' end
local state = cjson.decode(cur).state
if state ~= 'off' then return state end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'booting'
"""

#: KEYS power, host's VM set, runs; ARGV host, off JSON. Returns {verdict, VMs}:
#: ok | off (already) | unknown | has-vms | migrating.
POWER_OFF = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return {'unknown', 0} end
local n = redis.call('SCARD', KEYS[2])
if n > 0 then return {'has-vms', n} end
for _, r in ipairs(redis.call('HVALS', KEYS[3])) do
  local src, dst = string.match(r, '^%S+ (%S+) ([^\\n]+)')
  if src == ARGV[1] or dst == ARGV[1] then return {'migrating', 0} end
end
if cjson.decode(cur).state == 'off' then return {'off', 0} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'ok', 0}
"""

#: KEYS placement, vm-state, runs; ARGV vm, host, paused | running. Returns 1, or 0 when
#: the VM is elsewhere or migrating (a migration hears of it through ``EVENT``).
GUEST = """
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 0 end
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == 'running' then redis.call('HDEL', KEYS[2], ARGV[1])
else redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
return 1
"""

#: KEYS placement, marks; ARGV vm, host, mark JSON. Returns 1, or 0 if the VM is elsewhere.
MARK = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
"""

#: KEYS power; ARGV host, expected text, new text. Returns 1 if it was replaced.
BOOTED = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""
