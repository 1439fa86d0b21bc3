"""Statistics of written parts, as the DuckDB engine computes them.

`count` is the number of non-null values; min, max, mean and stddev (sample) of a float
feature describe its finite values (NaN and ±infinity count as values but not in them);
numbers are reported as doubles, times ISO 8601 with Z, dates YYYY-MM-DD; lists and bytes
have no min or max. `basic` leaves out mean, stddev and approximate distinct values.
"""

import math
import os

from pyspark.sql import functions as F

from parse_values import element_type, is_list, iso_date, iso_time
from storage_paths import spark_path

NUMERIC = {"int32", "int64", "float32", "float64"}
FLOATS = {"float32", "float64"}


def _number(value):
    if value is None:
        return None
    number = float(value)
    return 0.0 if number == 0 else number  # -0 and 0 are one value in JSON


def compute_statistics(spark, parts, features, level="full"):
    """(row count, statistics per feature, rows per part path) of Parquet parts."""
    if not parts:
        return 0, {f["name"]: {"count": 0, "nulls": 0} for f in features}, {}
    full = level != "basic"
    frame = spark.read.parquet(*[spark_path(part) for part in parts])
    aggregates = [F.count(F.lit(1)).alias("rows")]
    for i, feature in enumerate(features):
        column = F.col(f"`{feature['name']}`")
        scalar = element_type(feature["type"])
        listed = is_list(feature["type"])
        aggregates.append(F.count(column).alias(f"c{i}"))
        if full:
            aggregates.append(F.approx_count_distinct(column).alias(f"d{i}"))
        value = column
        if scalar in FLOATS and not listed:
            finite = ~F.isnan(column) & (F.abs(column) != F.lit(float("inf")))
            value = F.when(finite, column)
        if listed or scalar == "bytes":
            continue
        if full and scalar in NUMERIC:
            aggregates.append(F.avg(value.cast("double")).alias(f"mean{i}"))
            aggregates.append(F.stddev_samp(value.cast("double")).alias(f"sd{i}"))
        if scalar == "timestamp":
            aggregates.append(F.unix_micros(F.min(value)).alias(f"lo{i}"))
            aggregates.append(F.unix_micros(F.max(value)).alias(f"hi{i}"))
        elif scalar == "date":
            aggregates.append(F.unix_date(F.min(value)).alias(f"lo{i}"))
            aggregates.append(F.unix_date(F.max(value)).alias(f"hi{i}"))
        else:
            aggregates.append(F.min(value).alias(f"lo{i}"))
            aggregates.append(F.max(value).alias(f"hi{i}"))
    row = frame.agg(*aggregates).collect()[0].asDict()
    per_file = {
        entry["name"]: entry["count"]
        for entry in frame.groupBy(F.col("_metadata.file_name").alias("name")).count().collect()
    }
    rows_per_part = {part: per_file.get(os.path.basename(part), 0) for part in parts}
    row_count = row["rows"]
    statistics = {}
    for i, feature in enumerate(features):
        scalar = element_type(feature["type"])
        count = row[f"c{i}"]
        stats = {"count": count, "nulls": row_count - count}
        lo, hi = row.get(f"lo{i}"), row.get(f"hi{i}")
        if lo is not None and hi is not None:
            if scalar == "timestamp":
                lo, hi = iso_time(lo), iso_time(hi)
            elif scalar == "date":
                lo, hi = iso_date(lo), iso_date(hi)
            elif scalar in NUMERIC:
                lo, hi = _number(lo), _number(hi)
            stats["min"], stats["max"] = lo, hi
        mean, deviation = row.get(f"mean{i}"), row.get(f"sd{i}")
        if mean is not None and math.isfinite(mean):
            stats["mean"] = mean
        if deviation is not None and math.isfinite(deviation):
            stats["stddev"] = deviation
        distinct = row.get(f"d{i}")
        if distinct is not None:
            stats["approxDistinct"] = distinct
        statistics[feature["name"]] = stats
    return row_count, statistics, rows_per_part
