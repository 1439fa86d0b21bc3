"""How feature types are held in Spark: the typed columns of parts, and the plain columns the
Python tasks produce (times as microseconds, dates as days) with the SQL that types them.

Parts are Parquet as the DuckDB engine writes them: timestamps INT64 microseconds adjusted to
UTC, dates DATE, float32 FLOAT, lists LIST, so each engine reads the other's parts.
"""

from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from parse_values import element_type, is_list

_TYPED = {
    "bool": BooleanType(),
    "int32": IntegerType(),
    "int64": LongType(),
    "float32": FloatType(),
    "float64": DoubleType(),
    "string": StringType(),
    "bytes": BinaryType(),
    "date": DateType(),
    "timestamp": TimestampType(),
}
# What a Python task hands over: a date as days, a time as microseconds since the epoch.
_PLAIN = dict(_TYPED, date=IntegerType(), timestamp=LongType())


def typed_type(feature_type):
    scalar = _TYPED[element_type(feature_type)]
    return ArrayType(scalar) if is_list(feature_type) else scalar


def plain_type(feature_type):
    scalar = _PLAIN[element_type(feature_type)]
    return ArrayType(scalar) if is_list(feature_type) else scalar


def plain_schema(features, extra=()):
    """The schema of the tasks' rows: one plain column per feature, then `extra` fields."""
    fields = [
        StructField(f"__p{i}", plain_type(feature["type"]), True)
        for i, feature in enumerate(features)
    ]
    return StructType(fields + list(extra))


def _typed_scalar(column, scalar):
    if scalar == "timestamp":
        return F.timestamp_micros(column)
    if scalar == "date":
        return F.date_from_unix_date(column)
    return column


def typed_column(column, feature_type):
    """A plain column as its feature type."""
    scalar = element_type(feature_type)
    if scalar not in ("timestamp", "date"):
        return column.cast(typed_type(feature_type))
    if is_list(feature_type):
        return F.transform(column, lambda element: _typed_scalar(element, scalar))
    return _typed_scalar(column, scalar)


def typed_select(frame, features):
    """The plain columns `__p<i>` of `frame` as the features, named and typed."""
    return frame.select(
        *[
            typed_column(F.col(f"__p{i}"), feature["type"]).alias(feature["name"])
            for i, feature in enumerate(features)
        ]
    )


def _iso_time(column):
    """ISO 8601 with Z: milliseconds unless the value has finer digits."""
    return F.when(
        F.unix_micros(column) % 1000 == 0,
        F.date_format(column, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"),
    ).otherwise(F.date_format(column, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"))


def _text_scalar(column, scalar):
    if scalar == "timestamp":
        return _iso_time(column)
    if scalar == "date":
        return F.date_format(column, "yyyy-MM-dd")
    if scalar == "bytes":
        return F.base64(column)
    return column


def csv_text(column, feature_type):
    """A typed column as CSV text: the conventions ingestion reads (lists as JSON arrays)."""
    scalar = element_type(feature_type)
    if not is_list(feature_type):
        return _text_scalar(column, scalar).cast(StringType())
    if scalar in ("timestamp", "date", "bytes"):
        column = F.transform(column, lambda element: _text_scalar(element, scalar))
    return F.to_json(column)


def json_value(column, feature_type):
    """A typed column for JSON Lines: times, dates, bytes and int64 as text."""
    scalar = element_type(feature_type)
    if scalar not in ("timestamp", "date", "bytes", "int64"):
        return column

    def text(element):
        return element.cast(StringType()) if scalar == "int64" else _text_scalar(element, scalar)

    return F.transform(column, text) if is_list(feature_type) else text(column)
