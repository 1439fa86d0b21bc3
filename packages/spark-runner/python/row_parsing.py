"""Turning one file's rows into typed rows, in file order, stopping at the first bad row.

Runs inside Spark tasks (one task per CSV or JSON-lines file, so the rows keep file order and
a row's number in its file is known). The first problem of a file is handed back through an
accumulator; the driver reports the first file's, as the DuckDB engine does.
"""

from pyspark.accumulators import AccumulatorParam

from job_problems import JobProblem
from parse_values import INVALID, element_type, is_list, parse_text, type_hint, why_invalid
from storage_paths import SourceRef
from text_sources import (
    CSV_ROWS_ARE,
    JSON_ROWS_ARE,
    csv_rows,
    decode,
    json_display,
    json_records,
    json_text,
    read_bytes,
)


class ProblemList(AccumulatorParam):
    """An accumulator of problem documents, each with the index of its file."""

    def zero(self, value):
        return []

    def addInPlace(self, left, right):
        return left + right


def value_problem(source, rows_are, row, feature, shown, is_json):
    why = why_invalid(feature["type"], shown, is_json) or (
        f"is not a {feature['type']} (expected {type_hint(feature['type'])})"
    )
    display = shown if is_json else _quoted(shown)
    return JobProblem(
        "VALIDATION",
        f'{source.name} row {row} ({rows_are}), column "{feature["name"]}": {display} {why}: '
        "fix the value or change the feature's type",
        {"file": source.uri, "row": row, "column": feature["name"], "value": shown},
    )


def empty_problem(source, rows_are, row, feature, required):
    return JobProblem(
        "VALIDATION",
        f'{source.name} row {row} ({rows_are}), column "{feature["name"]}": the {required} is '
        f"empty: every row needs a {required} value",
        {"file": source.uri, "row": row, "column": feature["name"]},
    )


def _quoted(text):
    import json

    return json.dumps(text, ensure_ascii=False)


def required_role(schema, name):
    if name in schema["primaryKey"]:
        return "primary key"
    if name == schema["eventTime"]:
        return "event time"
    return None


def typed_values(raw_values, plan, source, rows_are, row, is_json):
    """One row's typed values, or raises the row's first problem."""
    values = []
    for (feature, required), (raw, display, nested) in zip(plan, raw_values):
        if nested and not is_list(feature["type"]):
            raise value_problem(source, rows_are, row, feature, display, is_json)
        value = parse_text(raw, feature["type"])
        if value is INVALID:
            raise value_problem(source, rows_are, row, feature, display, is_json)
        if value is None and required:
            raise empty_problem(source, rows_are, row, feature, required)
        values.append(value)
    return values


def text_rows(source, file_format, names, plan):
    """The raw values (raw, display, nested) per planned feature of each row, in order."""
    text = decode(read_bytes(source.path), source)
    if file_format == "csv":
        positions = [names.index(feature["name"]) for feature, _ in plan]
        for row, fields in csv_rows(text, source):
            yield row, CSV_ROWS_ARE, [
                (fields[p], fields[p], False) for p in positions
            ]
        return
    for _, row, record in json_records(text, source):
        if not isinstance(record, dict):
            raise JobProblem(
                "VALIDATION",
                f"{source.name} row {row} ({JSON_ROWS_ARE}): the record is not a JSON object: "
                "write one object per line",
                {"file": source.uri, "row": row},
            )
        raw = []
        for feature, _ in plan:
            value = record.get(feature["name"])
            raw.append((json_text(value), json_display(value), isinstance(value, (dict, list))))
        yield row, JSON_ROWS_ARE, raw


def parse_file(index, job, problems, rows):
    """The typed rows of file `index` of an ingest job; its first problem to `problems`."""
    source = SourceRef(job["sources"][index])
    plan = [
        (feature, required_role(job["schema"], feature["name"]))
        for feature in job["schema"]["features"]
    ]
    is_json = job["format"] == "json"
    count = 0
    try:
        for row, rows_are, raw in text_rows(source, job["format"], job["names"][index], plan):
            yield typed_values(raw, plan, source, rows_are, row, is_json)
            count += 1
    except JobProblem as problem:
        problems.add([dict(problem.document(), file=index)])
    rows.add(count)


def parse_native_row(row, kinds, plan, source, rows_are, number):
    """One Parquet row's typed values by the native conversion rules, or its first problem."""
    values = []
    for (feature, required), kind, raw in zip(plan, kinds, row):
        value = native_value(raw, kind, feature["type"])
        if value is INVALID:
            shown = str(raw)
            raise value_problem(source, rows_are, number, feature, shown, False)
        if value is None and required:
            raise empty_problem(source, rows_are, number, feature, required)
        values.append(value)
    return values


FLOAT32_MAX = 3.4028234663852886e38


def _native_scalar(value, kind, scalar):
    import math
    import struct

    from parse_values import MICROS_PER_DAY, parse_scalar_text

    if value is None:
        return None
    if kind == "text":
        if scalar not in ("string", "bytes"):
            value = value.strip(" ")
            if value == "":
                return None
        return parse_scalar_text(value, scalar)
    if scalar in ("int32", "int64"):
        if kind in ("float", "decimal"):
            if isinstance(value, float) and not math.isfinite(value):
                return INVALID
            if value != int(value):
                return INVALID
        limit = 1 << (31 if scalar == "int32" else 63)
        number = int(value)
        return number if -limit <= number < limit else INVALID
    if scalar == "float64":
        return float(value)
    if scalar == "float32":
        number = float(value)
        if math.isfinite(number):
            narrowed = struct.unpack("f", struct.pack("f", number))[0] if abs(number) <= FLOAT32_MAX * 1.0000001 else math.inf
            if math.isinf(narrowed):
                return INVALID
            return narrowed
        return number
    if scalar == "timestamp" and kind == "date":
        return value * MICROS_PER_DAY
    return value


def native_value(value, kind, feature_type):
    scalar = element_type(feature_type)
    if kind == "text":
        return parse_text(value, feature_type)
    if is_list(feature_type):
        if value is None:
            return None
        out = []
        for element in value:
            converted = _native_scalar(element, kind[1], scalar)
            if converted is INVALID:
                return INVALID
            out.append(converted)
        return out
    return _native_scalar(value, kind, scalar)


def parse_native(rows, job, index, kinds, problems, counted):
    """Typed rows of one Parquet file's (row, position) pairs; the first problem to `problems`."""
    from text_sources import PARQUET_ROWS_ARE

    source = SourceRef(job["sources"][index])
    plan = [
        (feature, required_role(job["schema"], feature["name"]))
        for feature in job["schema"]["features"]
    ]
    count = 0
    try:
        for row, position in rows:
            yield parse_native_row(row, kinds, plan, source, PARQUET_ROWS_ARE, position + 1)
            count += 1
    except JobProblem as problem:
        problems.add([dict(problem.document(), file=index, position=problem.details.get("row"))])
    counted.add(count)
