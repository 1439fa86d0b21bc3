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

/**
 * Compare-and-set past the newest-wins rule (`OnlineStore.replace`), atomically like the write
 * script.
 *
 * KEYS: the replacements' keys, then the keys of their shapes. ARGV[1]: milliseconds to keep a
 * record after its event time (0: forever); ARGV[2]: how many replacements; then two
 * arguments per replacement: the expected event time and write sequence as 16 bytes of
 * little-endian float64 (empty: the key must have no record) and the encoded record to store
 * (empty: remove the key); then the shapes. Headers are compared as numbers, the way the
 * write script compares them. Returns one 1 (applied) or 0 per replacement.
 */
export const REPLACE_SCRIPT = `
local keep = tonumber(ARGV[1])
local records = tonumber(ARGV[2])
local result = {}
for i = 1, records do
  local expected = ARGV[2 * i + 1]
  local value = ARGV[2 * i + 2]
  local matches
  if expected == '' then
    matches = redis.call('EXISTS', KEYS[i]) == 0
  else
    local stored = redis.call('GETRANGE', KEYS[i], 0, 16)
    matches = false
    if #stored == 17 then
      local oldTime, oldSequence = struct.unpack('<dd', stored, 2)
      local wantTime, wantSequence = struct.unpack('<dd', expected)
      matches = oldTime == wantTime and oldSequence == wantSequence
    end
  end
  if matches then
    if value == '' then
      redis.call('DEL', KEYS[i])
    elseif keep > 0 then
      local newTime = struct.unpack('<d', value, 2)
      local expireAt = string.format('%.0f', math.max(1, math.floor(newTime + keep)))
      redis.call('SET', KEYS[i], value, 'PXAT', expireAt)
    else
      redis.call('SET', KEYS[i], value)
    end
    result[i] = 1
  else
    result[i] = 0
  end
end
for i = records + 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + records + 2])
end
return result
`;

/** The replace script's SHA-1, as `EVALSHA` names it. */
export const REPLACE_SCRIPT_SHA = createHash('sha1').update(REPLACE_SCRIPT).digest('hex');

/**
 * The event time and write sequence of each key's record, without its values: what a read of
 * no features (`features: []`) needs, a few bytes per key instead of the whole record.
 *
 * KEYS: the records' keys. Returns two strings per key: the event time and write sequence as
 * `%.17g` (exact for float64), or two empty strings when the key has no record.
 */
export const HEADERS_SCRIPT = `
local result = {}
for i = 1, #KEYS do
  local stored = redis.call('GETRANGE', KEYS[i], 0, 16)
  if #stored == 17 then
    local eventTime, sequence = struct.unpack('<dd', stored, 2)
    result[2 * i - 1] = string.format('%.17g', eventTime)
    result[2 * i] = string.format('%.17g', sequence)
  else
    result[2 * i - 1] = ''
    result[2 * i] = ''
  end
end
return result
`;

/** The headers script's SHA-1, as `EVALSHA` names it. */
export const HEADERS_SCRIPT_SHA = createHash('sha1').update(HEADERS_SCRIPT).digest('hex');
