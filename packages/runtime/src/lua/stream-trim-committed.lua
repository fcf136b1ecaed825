-- Trims a stream to what every consumer group of it has acknowledged (XTRIM MINID), in one step so
-- no group can read or rewind in between: the floor of a group is its oldest pending entry, or
-- while nothing is pending its last delivered entry (kept: one entry, and the arithmetic on ids
-- stays out of Lua). Entries below the lowest floor were delivered to every group and acknowledged.
-- KEYS: stream; ARGV: none. Returns the entries removed (0 without a stream or a group).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local floor, floorMs, floorSeq = nil, nil, nil
for _, group in ipairs(groups) do
  local info = {}
  for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
  local candidate = info['last-delivered-id']
  if tonumber(info['pending']) > 0 then
    candidate = redis.call('XPENDING', KEYS[1], info['name'])[2]
  end
  local ms, seq = parse(candidate)
  if floor == nil or ms < floorMs or (ms == floorMs and seq < floorSeq) then
    floor, floorMs, floorSeq = candidate, ms, seq
  end
end
return redis.call('XTRIM', KEYS[1], 'MINID', floor)
