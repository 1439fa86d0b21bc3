import { createHash } from 'node:crypto';

/**
 * Applies a batch of records under the newest-wins rule, atomically: Redis runs a script to
 * completion before any other command, so no writer can slip between the compare and the set.
 *
 * KEYS: the records' keys (one feature set version: one hash slot). ARGV[1]: milliseconds to
 * keep a record after its event time (0: forever); ARGV[i + 1]: the encoded record of KEYS[i].
 * Only the 17-byte header of the stored record is read (GETRANGE): the format byte, then
 * event time and write sequence as little-endian float64. Returns how many records applied.
 *
 * A record whose expiry is already past is still "applied": SET … PXAT with a past time
 * removes the key, which held an older, equally expired record.
 */
export const WRITE_SCRIPT = `
local keep = tonumber(ARGV[1])
local applied = 0
for i = 1, #KEYS do
  local value = ARGV[i + 1]
  local newTime, newSequence = struct.unpack('<dd', value, 2)
  local stored = redis.call('GETRANGE', KEYS[i], 0, 16)
  local apply = true
  if #stored == 17 then
    local oldTime, oldSequence = struct.unpack('<dd', stored, 2)
    apply = newTime > oldTime or (newTime == oldTime and newSequence >= oldSequence)
  end
  if apply then
    if keep > 0 then
      redis.call('SET', KEYS[i], value, 'PXAT', string.format('%.0f', math.max(1, math.floor(newTime + keep))))
    else
      redis.call('SET', KEYS[i], value)
    end
    applied = applied + 1
  end
end
return applied
`;

/** The script's SHA-1, as `EVALSHA` names it: computed here, so no `SCRIPT LOAD` round trip. */
export const WRITE_SCRIPT_SHA = createHash('sha1').update(WRITE_SCRIPT).digest('hex');
