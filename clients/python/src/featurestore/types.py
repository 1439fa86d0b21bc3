"""Featurestore feature types: their Arrow types, and values to and from the online API's Value.

Types are ``bool, int32, int64, float32, float64, string, bytes, date, timestamp`` and
``list<scalar>``. Timestamps are UTC instants: a naive datetime is taken as UTC, an aware one
is converted; they come back as aware datetimes in UTC.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from featurestore._proto.featurestore.v1 import online_pb2

SCALAR_TYPES = ("bool", "int32", "int64", "float32", "float64", "string", "bytes", "date", "timestamp")

_ARROW_OF: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bytes": pa.binary(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def arrow_type(feature_type: str) -> pa.DataType:
    """The Arrow type values of a feature type are held in."""
    if feature_type.startswith("list<") and feature_type.endswith(">"):
        return pa.list_(arrow_type(feature_type[5:-1]))
    try:
        return _ARROW_OF[feature_type]
    except KeyError:
        raise ValueError(f"unknown feature type {feature_type!r}: expected one of {', '.join(SCALAR_TYPES)} or list<…>") from None


def feature_type_of(arrow: pa.DataType, column: str = "") -> str:
    """The feature type a column of this Arrow type registers as (for schemas from data)."""
    where = f" of column {column!r}" if column else ""
    if pa.types.is_boolean(arrow):
        return "bool"
    if pa.types.is_integer(arrow):
        if arrow.bit_width < 32 or (arrow.bit_width == 32 and pa.types.is_signed_integer(arrow)):
            return "int32"
        if arrow.bit_width == 64 and pa.types.is_unsigned_integer(arrow):
            raise ValueError(f"type uint64{where} has no feature type: values beyond int64 cannot be stored; cast it to int64")
        return "int64"
    if pa.types.is_float16(arrow) or pa.types.is_float32(arrow):
        return "float32"
    if pa.types.is_float64(arrow) or pa.types.is_decimal(arrow):
        return "float64"
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_dictionary(arrow):
        return "string"
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow) or pa.types.is_fixed_size_binary(arrow):
        return "bytes"
    if pa.types.is_date(arrow):
        return "date"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return f"list<{feature_type_of(arrow.value_type, column)}>"
    raise ValueError(f"type {arrow}{where} has no feature type; cast it to one of {', '.join(SCALAR_TYPES)} or a list of them")


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def to_value(value: Any, feature_type: str | None = None) -> online_pb2.Value:
    """A Python value as the online API's Value, typed as ``feature_type`` when known.

    None, NaN of a non-float type and pandas' NA/NaT are null.
    """
    message = online_pb2.Value()
    if _is_null(value, feature_type):
        message.null_value = online_pb2.NULL_VALUE
        return message
    if feature_type is not None and feature_type.startswith("list<"):
        item_type = feature_type[5:-1]
        message.list_value.values.extend(to_value(item, item_type) for item in value)
        return message
    kind = feature_type or _kind_of(value)
    if kind == "bool":
        message.bool_value = bool(value)
    elif kind in ("int32", "int64"):
        message.int64_value = int(value)
    elif kind in ("float32", "float64"):
        message.double_value = float(value)
    elif kind == "string":
        message.string_value = str(value)
    elif kind == "bytes":
        message.bytes_value = bytes(value)
    elif kind == "date":
        message.date_value = (value.date() if isinstance(value, dt.datetime) else value).isoformat() if not isinstance(value, str) else value
    elif kind == "timestamp":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if hasattr(value, "to_pydatetime"):
            value = value.to_pydatetime()
        message.timestamp_value.FromDatetime(_utc(value))
    elif kind == "list":
        message.list_value.values.extend(to_value(item) for item in value)
    else:
        raise ValueError(f"cannot send {value!r} of type {type(value).__name__} as a feature value")
    return message


def _is_null(value: Any, feature_type: str | None) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        # NaN is a value of float features, and pandas' stand-in for a missing value elsewhere.
        return feature_type not in ("float32", "float64")
    name = type(value).__name__
    return name in ("NAType", "NaTType")


def _kind_of(value: Any) -> str:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "bool"
    if isinstance(value, int) or type(value).__name__.startswith(("int", "uint")):
        return "int64"
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, dt.datetime) or hasattr(value, "to_pydatetime"):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return "list"
    return type(value).__name__


def from_value(message: online_pb2.Value) -> Any:
    """The Python value of an online API Value (None for null or missing)."""
    kind = message.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "timestamp_value":
        return message.timestamp_value.ToDatetime(tzinfo=dt.timezone.utc)
    if kind == "date_value":
        return dt.date.fromisoformat(message.date_value)
    if kind == "list_value":
        return [from_value(item) for item in message.list_value.values]
    return getattr(message, kind)


def to_row(values: Mapping[str, Any], types: Mapping[str, str] | None = None) -> online_pb2.Row:
    """A dict of column values as the online API's Row, typed by ``types`` when known."""
    row = online_pb2.Row()
    for column, value in values.items():
        row.values[column].CopyFrom(to_value(value, (types or {}).get(column)))
    return row
