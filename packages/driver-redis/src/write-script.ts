import { createHash } from 'node:crypto';

/**
 * Applies a batch of records under the newest-wins rule, atomically: Redis runs a script to
 * completion before any other command, so no writer can slip between the compare and the set.
 *
 * KEYS: the records' keys, then the keys of their shapes (one feature set version: one hash
 * slot). ARGV[1]: milliseconds to keep a record after its event time (0: forever); ARGV[2]:
 * how many records; then the encoded records, then the shapes. Only the 17-byte header of a
 * stored record is read (GETRANGE): the format byte, then event time and write sequence as
 * little-endian float64. Returns how many records applied.
 *
 * Without a time to live, the applied records are set with one MSET at the end, so an error
 * (a key of another type) leaves the batch unapplied. A record whose expiry is already past is
 * still "applied": SET … PXAT with a past time removes the key, which held an older, equally
 * expired record. Shapes are set with every batch: cheap, and a lost one comes back.
 */
export const WRITE_SCRIPT = `
local keep = tonumber(ARGV[1])
local records = tonumber(ARGV[2])
local applied = 0
local sets = {}
for i = 1, records do
  local value = ARGV[i + 2]
  local stored = redis.call('GETRANGE', KEYS[i], 0, 16)
  local apply = true
  if #stored == 17 then
    local oldTime, oldSequence = struct.unpack('<dd', stored, 2)
    local newTime, newSequence = struct.unpack('<dd', value, 2)
    apply = newTime > oldTime or (newTime == oldTime and newSequence >= oldSequence)
  end
  if apply then
    applied = applied + 1
    if keep > 0 then
      local newTime = struct.unpack('<d', value, 2)
      local expireAt = string.format('%.0f', math.max(1, math.floor(newTime + keep)))
      redis.call('SET', KEYS[i], value, 'PXAT', expireAt)
    else
      sets[#sets + 1] = KEYS[i]
      sets[#sets + 1] = value
    end
  end
end
for i = records + 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 2])
end
for from = 1, #sets, 1000 do
  redis.call('MSET', unpack(sets, from, math.min(from + 999, #sets)))
end
return applied
`;

/** The script's SHA-1, as `EVALSHA` names it: computed here, so no `SCRIPT LOAD` round trip. */
export const WRITE_SCRIPT_SHA = createHash('sha1').update(WRITE_SCRIPT).digest('hex');
