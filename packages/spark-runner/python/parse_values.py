"""Strict parsing of text values into feature types, the rules the DuckDB engine applies.

Text (CSV fields, JSON values) is parsed strictly so that a value is never silently rounded
or truncated: integers must be integer literals, dates YYYY-MM-DD, times ISO 8601 (no zone =
UTC, at most microsecond precision), bytes base64, lists JSON arrays. Parsed values are plain
Python numbers ready for Spark: times as microseconds since the epoch, dates as days since
the epoch (the job turns them into TIMESTAMP and DATE columns), so years beyond Python's
datetime range parse as they do in DuckDB.

Every parser returns INVALID for a present value that does not parse, None for an absent one.
"""

import base64
import binascii
import json
import math
import re
import struct

INVALID = object()
"""Marks a present value that is not a valid value of the type."""

FLOAT_TEXT = re.compile(
    r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)(e[+-]?[0-9]+)?|[+-]?(nan|inf|infinity)"
)
INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
DATE_TEXT = re.compile(r"(-?[0-9]{4,})-([0-9]{2})-([0-9]{2})")
# Fractions of a second down to microseconds: finer digits must be zeros, never cut.
TIME_TEXT = re.compile(
    r"(-?[0-9]{4,})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.]([0-9]{1,6})0*)?)?)?"
    r"(Z|([+-])([0-9]{2})(?::?([0-9]{2}))?)?"
)
FINER_THAN_MICROS = re.compile(r"[.][0-9]{6}0*[1-9]")

INT_RANGES = {"int32": 1 << 31, "int64": 1 << 63}
MICROS_PER_DAY = 86_400_000_000

# The blanks DuckDB's trim() removes: spaces only.
def _trim(text):
    return text.strip(" ")


def element_type(feature_type):
    """`int64` of `list<int64>`; the type itself for scalars."""
    if feature_type.startswith("list<"):
        return feature_type[5:-1]
    return feature_type


def is_list(feature_type):
    return feature_type.startswith("list<")


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (any year, negative included)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(days):
    """(year, month, day) of days since 1970-01-01."""
    days += 719468
    era = (days if days >= 0 else days - 146096) // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    year = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return (year + (month <= 2), month, day)


def _days_in_month(year, month):
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _date_days(year, month, day):
    if not (1 <= month <= 12) or not (1 <= day <= _days_in_month(year, month)):
        return None
    return days_from_civil(year, month, day)


def parse_date(text):
    match = DATE_TEXT.fullmatch(_trim(text))
    if not match:
        return INVALID
    days = _date_days(int(match[1]), int(match[2]), int(match[3]))
    return INVALID if days is None else days


def parse_timestamp(text):
    match = TIME_TEXT.fullmatch(_trim(text).upper())
    if not match:
        return INVALID
    days = _date_days(int(match[1]), int(match[2]), int(match[3]))
    if days is None:
        return INVALID
    hour = int(match[4] or 0)
    minute = int(match[5] or 0)
    second = int(match[6] or 0)
    micros = int((match[7] or "").ljust(6, "0") or 0)
    # 24:00:00 is the next midnight, as in DuckDB; nothing later.
    if hour > 24 or minute > 59 or second > 59 or (hour == 24 and minute + second + micros > 0):
        return INVALID
    offset = 0
    if match[9]:
        zone_hours = int(match[10])
        zone_minutes = int(match[11] or 0)
        if zone_minutes > 59:
            return INVALID
        offset = (zone_hours * 60 + zone_minutes) * 60_000_000
        if match[9] == "-":
            offset = -offset
    return days * MICROS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1_000_000 + micros - offset


def parse_integer(text, feature_type):
    trimmed = _trim(text)
    if not INTEGER_TEXT.fullmatch(trimmed):
        return INVALID
    value = int(trimmed)
    limit = INT_RANGES[feature_type]
    return value if -limit <= value < limit else INVALID


def parse_float(text, feature_type):
    trimmed = _trim(text)
    lowered = trimmed.lower()
    if not FLOAT_TEXT.fullmatch(lowered):
        return INVALID
    value = float(lowered)
    if math.isinf(value) and "inf" not in lowered:
        return INVALID  # beyond the type's range: never stored as infinity
    if feature_type == "float32" and math.isfinite(value):
        try:
            value = struct.unpack("f", struct.pack("f", value))[0]
        except OverflowError:
            return INVALID
        if math.isinf(value):
            return INVALID  # rounds beyond float32's range
    return value


def parse_bool(text):
    lowered = _trim(text).lower()
    # The spellings DuckDB's cast to BOOLEAN accepts.
    if lowered in ("true", "t", "1", "yes", "y"):
        return True
    if lowered in ("false", "f", "0", "no", "n"):
        return False
    return INVALID


def parse_bytes(text):
    try:
        return bytearray(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return INVALID


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _json_loads_exact(text):
    """JSON with numbers kept as their text (an int64 beyond 2^53 stays exact)."""
    return json.loads(
        text, parse_int=str, parse_float=str, parse_constant=_refuse_constant
    )


def _element_text(element):
    """A JSON list element as DuckDB's cast to text gives it; None for null."""
    if element is None:
        return None
    if element is True:
        return "true"
    if element is False:
        return "false"
    return element


def parse_scalar_text(text, scalar):
    """A present (non-blank) scalar text value; INVALID when it does not parse."""
    if scalar == "string":
        return text
    if scalar == "bytes":
        return parse_bytes(text)
    if scalar == "bool":
        return parse_bool(text)
    if scalar in ("int32", "int64"):
        return parse_integer(text, scalar)
    if scalar in ("float32", "float64"):
        return parse_float(text, scalar)
    if scalar == "date":
        return parse_date(text)
    if scalar == "timestamp":
        return parse_timestamp(text)
    raise ValueError(f"unknown feature type {scalar}")


def parse_list_text(text, feature_type):
    """A JSON array whose elements parse as the element type; INVALID otherwise."""
    try:
        elements = _json_loads_exact(text)
    except (ValueError, RecursionError):
        return INVALID
    if not isinstance(elements, list):
        return INVALID
    scalar = element_type(feature_type)
    values = []
    for element in elements:
        if isinstance(element, (dict, list)):
            return INVALID  # an object or array where a scalar belongs
        element = _element_text(element)
        if element is None:
            values.append(None)
            continue
        value = parse_scalar_text(element, scalar)
        if value is INVALID:
            return INVALID
        values.append(value)
    return values


def parse_text(text, feature_type):
    """A text value (None = absent) as the feature type: a value, None, or INVALID."""
    if text is None:
        return None
    scalar = element_type(feature_type)
    keeps_blanks = not is_list(feature_type) and scalar in ("string", "bytes")
    if not keeps_blanks:
        text = _trim(text)
        if text == "":
            return None
    if is_list(feature_type):
        return parse_list_text(text, feature_type)
    return parse_scalar_text(text, scalar)


TYPE_HINTS = {
    "bool": "true or false",
    "int32": "an integer such as 42",
    "int64": "an integer such as 42",
    "float32": "a number such as 12.5, with a dot for decimals",
    "float64": "a number such as 12.5, with a dot for decimals",
    "bytes": "base64 such as aGVsbG8=",
    "date": "YYYY-MM-DD",
    "timestamp": "ISO 8601 such as 2024-01-31T12:00:00Z (no zone = UTC)",
    "string": "text",
}


def type_hint(feature_type):
    if is_list(feature_type):
        return 'a JSON array such as ["a", "b"] or [1, 2]'
    return TYPE_HINTS[feature_type]


RANGE_TEXT = {
    "int32": "-2147483648 to 2147483647",
    "int64": "-9223372036854775808 to 9223372036854775807",
    "float32": "±3.4028235e38",
    "float64": "±1.7976931348623157e308",
}
NUMBER_TEXT = re.compile(r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)(e[+-]?[0-9]+)?", re.IGNORECASE)


def why_invalid(feature_type, text, is_json=False):
    """More to say than "not a <type>": out of range, finer than microseconds, nested."""
    value = text
    if is_json or is_list(feature_type):
        try:
            parsed = json.loads(text)
            if isinstance(parsed, str):
                value = parsed
            elif is_list(feature_type) and isinstance(parsed, list):
                if any(isinstance(element, (dict, list)) for element in parsed):
                    return f"holds an object or array as an element ({feature_type} elements are scalars)"
        except (ValueError, RecursionError):
            pass
    value = value.strip()
    scalar = element_type(feature_type)
    if not is_list(feature_type) and scalar in RANGE_TEXT:
        integer = scalar in INT_RANGES
        numeric = INTEGER_TEXT.fullmatch(value) if integer else NUMBER_TEXT.fullmatch(value)
        if numeric:
            if integer:
                limit = INT_RANGES[scalar]
                out = not (-limit <= int(value) < limit)
            elif scalar == "float32":
                out = abs(float(value)) > 3.4028235677973366e38
            else:
                out = not math.isfinite(float(value))
            if out:
                return f"is out of the range of {feature_type} ({RANGE_TEXT[scalar]})"
    if scalar == "timestamp" and FINER_THAN_MICROS.search(value):
        return "is finer than a microsecond, the precision of stored times: round it to 6 decimal places"
    return None


def iso_time(micros):
    """ISO 8601 with Z: milliseconds like Date#toISOString, microseconds when present."""
    days, rest = divmod(micros, MICROS_PER_DAY)
    year, month, day = civil_from_days(days)
    seconds, fraction = divmod(rest, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    digits = f"{fraction // 1000:03d}" if fraction % 1000 == 0 else f"{fraction:06d}"
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{digits}Z"


def iso_date(days):
    year, month, day = civil_from_days(days)
    return f"{year:04d}-{month:02d}-{day:02d}"
