"""The retrieve job: a feature set version's rows — all, an event-time range, or the latest
per key (newest time, then greater sequence, then later row) — written as one file."""

from pyspark.sql import Window
from pyspark.sql import functions as F

from feature_rows import feature_rows, newest_first
from job_problems import JobProblem
from output_files import output_columns, write_output
from parse_values import INVALID, parse_timestamp


def _bound(spec, field):
    text = spec.get(field)
    if text is None:
        return None
    micros = parse_timestamp(text)
    if micros is INVALID or micros is None:
        raise JobProblem(
            "VALIDATION",
            f"{field} {text!r} is not a time: write it as ISO 8601 such as 2024-01-31T12:00:00Z (no zone = UTC)",
            {"field": field, "value": text},
        )
    return micros


def run_retrieve(spark, spec, request, report):
    schema = spec["schema"]
    lower, upper = _bound(spec, "from"), _bound(spec, "to")
    report(0.1, "reading the committed rows", "read")
    rows = feature_rows(spark, schema, spec["inputs"])
    time = F.col(f"`{schema['eventTime']}`")
    if lower is not None:
        rows = rows.where(F.unix_micros(time) >= F.lit(lower))
    if upper is not None:
        rows = rows.where(F.unix_micros(time) < F.lit(upper))
    if spec.get("latest"):
        keys = [F.col(f"`{key}`") for key in schema["primaryKey"]]
        window = Window.partitionBy(*keys).orderBy(*newest_first(schema))
        rows = rows.withColumn("__rank", F.row_number().over(window)).where("__rank = 1")
    # The DuckDB engine's order: by event time, sequence and position (the latest: by key).
    if spec.get("latest"):
        order = [F.col(f"`{key}`") for key in schema["primaryKey"]]
    else:
        order = [F.col(f"`{schema['eventTime']}`"), "__seq", "__part", "__row"]
    columns = [(F.col(f"`{f['name']}`"), f["name"], f["type"]) for f in schema["features"]]
    frame = rows.orderBy(*order).select(*output_columns(columns, spec["output"]["format"]))
    report(0.5, "writing the output", "write output")
    write_output(frame, spec["output"], request["temporary"])
    # A second pass, counting only: the writer does not report how many rows it wrote.
    row_count = rows.count()
    report(1, f"wrote {row_count} rows", "write output", phaseFraction=1, rows=row_count)
    return {"rowCount": row_count, "uri": spec["output"]["uri"]}
