import { createHash } from "node:crypto";
import { LEASE } from "./admit-leases.ts";

/**
 * One admit as one Lua script, so Redis runs every check and every count of a
 * call with nothing in between (https://redis.io/docs/latest/develop/programmability/eval-intro/#script-atomicity):
 * N gateways sharing a Redis count exactly as one process does.
 *
 * KEYS[i] is limit i's counter: a hash of sub-bucket → count for a sliding
 * window (buckets that left the window are deleted as they are met), a string
 * for a calendar period (its name carries the period). ARGV holds
 * ARGS_PER_LIMIT values per limit: kind (`s` sliding, `c` calendar), amount,
 * whether the call counts against it (`1` for requests), the current
 * sub-bucket, the sub-buckets counted, and the key's expiry (PEXPIRE ms for a
 * sliding window, PEXPIREAT epoch ms for a period). After them, optionally,
 * `want`: how many calls to count at once when admitted (a lease,
 * admit-leases.ts); the script counts fewer — only the call itself — unless
 * every limit counts requests and has at least LEASE.minLeft left after it,
 * and then at most 1/LEASE.share of what is left.
 *
 * Reply: the refusing limit (1-based, 0: admitted); for it, the sub-bucket
 * whose leaving frees it (-1 for a period); then per limit its usage (after
 * counting) and its oldest counted sub-bucket (-1: none, or a period); last,
 * the calls counted (0 when refused).
 * Lua numbers are doubles: figures are exact up to 2^53.
 */
export const ADMIT_SCRIPT = `
local blocked, free, granted = 0, -1, 0
local want = tonumber(ARGV[#KEYS * 6 + 1] or '1')
local used, oldest, counts = {}, {}, {}
for i = 1, #KEYS do
  local at = (i - 1) * 6
  local amount = tonumber(ARGV[at + 2])
  local u, first = 0, -1
  if ARGV[at + 1] == 's' then
    local current, span = tonumber(ARGV[at + 4]), tonumber(ARGV[at + 5])
    local fields = redis.call('HGETALL', KEYS[i])
    local stale, seen = {}, {}
    for j = 1, #fields, 2 do
      local bucket, count = tonumber(fields[j]), tonumber(fields[j + 1])
      if bucket <= current - span then
        stale[#stale + 1] = fields[j]
      else
        u = u + count
        seen[bucket] = count
        if count > 0 and (first < 0 or bucket < first) then first = bucket end
      end
    end
    if #stale > 0 then redis.call('HDEL', KEYS[i], unpack(stale)) end
    counts[i] = seen
  else
    u = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  used[i], oldest[i] = u, first
  if blocked == 0 and u >= amount then blocked = i end
end
if blocked > 0 then
  local at = (blocked - 1) * 6
  if ARGV[at + 1] == 's' then
    local amount, current, span = tonumber(ARGV[at + 2]), tonumber(ARGV[at + 4]), tonumber(ARGV[at + 5])
    local left = used[blocked]
    for bucket = current - span + 1, current do
      left = left - (counts[blocked][bucket] or 0)
      free = bucket
      if left < amount then break end
    end
  end
else
  granted = 1
  if want > 1 then
    granted = want
    for i = 1, #KEYS do
      local at = (i - 1) * 6
      local left = tonumber(ARGV[at + 2]) - used[i] - 1
      local most = 0
      if ARGV[at + 3] == '1' and left >= ${LEASE.minLeft} then most = math.floor(left / ${LEASE.share}) end
      if most + 1 < granted then granted = most + 1 end
    end
  end
  for i = 1, #KEYS do
    local at = (i - 1) * 6
    if ARGV[at + 3] == '1' then
      if ARGV[at + 1] == 's' then
        redis.call('HINCRBY', KEYS[i], ARGV[at + 4], granted)
        redis.call('PEXPIRE', KEYS[i], ARGV[at + 6])
        if oldest[i] < 0 then oldest[i] = tonumber(ARGV[at + 4]) end
      else
        redis.call('INCRBY', KEYS[i], granted)
        redis.call('PEXPIREAT', KEYS[i], ARGV[at + 6])
      end
      used[i] = used[i] + granted
    end
  end
end
local reply = { blocked, free }
for i = 1, #KEYS do
  reply[#reply + 1] = used[i]
  reply[#reply + 1] = oldest[i]
end
reply[#reply + 1] = granted
return reply
`;

export const ARGS_PER_LIMIT = 6;

/** What EVALSHA names the script by. */
export const ADMIT_SCRIPT_SHA = createHash("sha1").update(ADMIT_SCRIPT).digest("hex");
