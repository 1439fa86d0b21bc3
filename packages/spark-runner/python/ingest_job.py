"""The ingest job: validate a source against its schema and write typed Parquet parts.

One part per source file (`part-<file index>.parquet`) holding the file's rows in file order,
so a row's position in the ingestion is known without storing it, as with the DuckDB engine.
CSV and JSON lines are parsed in Python tasks, one per file, by the strict rules of
parse_values.py; Parquet files are read by Spark and converted by the native rules. Nothing
is moved under the output prefix before every row passed and the statistics are computed; a
failure leaves only the staging folder, which the job (or the runner, when the job was
killed) removes.
"""

import os
import shutil

from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    ByteType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    ShortType,
    StringType,
    TimestampNTZType,
    TimestampType,
)

from feature_columns import plain_schema, typed_select
from job_problems import JobProblem
from parse_values import element_type, is_list
from row_parsing import ProblemList, parse_file, parse_native
from feature_statistics import compute_statistics
from storage_paths import (
    PRIVATE_FILE_MODE,
    Source,
    join_uri,
    local_path,
    make_private_folder,
    spark_files,
    spark_path,
)
from text_sources import check_columns, csv_header, CsvRecords, decode, json_keys, read_bytes


def _names(source, file_format):
    """The columns of a CSV or JSON-lines file (read on the driver: headers, JSON keys)."""
    text = decode(read_bytes(source.path), source)
    if file_format == "csv":
        return csv_header(CsvRecords(text, source), source)
    return json_keys(text, source)


def _native_kind(data_type):
    if isinstance(data_type, BooleanType):
        return "bool"
    if isinstance(data_type, (ByteType, ShortType, IntegerType, LongType)):
        return "int"
    if isinstance(data_type, (FloatType, DoubleType)):
        return "float"
    if isinstance(data_type, DecimalType):
        return "decimal"
    if isinstance(data_type, StringType):
        return "text"
    if isinstance(data_type, BinaryType):
        return "binary"
    if isinstance(data_type, DateType):
        return "date"
    if isinstance(data_type, (TimestampType, TimestampNTZType)):
        return "timestamp"
    if isinstance(data_type, ArrayType):
        element = _native_kind(data_type.elementType)
        return None if element is None or isinstance(element, tuple) else ("list", element)
    return None


# Which native kinds each scalar feature type takes without losing information.
_FITS = {
    "bool": {"bool"},
    "int32": {"int", "float", "decimal"},
    "int64": {"int", "float", "decimal"},
    "float32": {"int", "float", "decimal"},
    "float64": {"int", "float", "decimal"},
    "string": set(),
    "bytes": {"binary"},
    "date": {"date"},
    "timestamp": {"timestamp", "date"},
}


def _fits(kind, feature_type):
    if kind == "text":
        return True
    if kind is None:
        return False
    scalar = element_type(feature_type)
    if is_list(feature_type):
        return isinstance(kind, tuple) and (kind[1] == "text" or kind[1] in _FITS[scalar])
    return not isinstance(kind, tuple) and kind in _FITS[scalar]


def _plain_native(column, data_type):
    """A Parquet column as the tasks take it: times as microseconds, dates as days."""
    if isinstance(data_type, TimestampNTZType):
        return F.unix_micros(column.cast(TimestampType()))
    if isinstance(data_type, TimestampType):
        return F.unix_micros(column)
    if isinstance(data_type, DateType):
        return F.unix_date(column)
    if isinstance(data_type, ArrayType) and isinstance(
        data_type.elementType, (TimestampType, TimestampNTZType, DateType)
    ):
        return F.transform(column, lambda element: _plain_native(element, data_type.elementType))
    return column


def _check_parquet(source):
    with open(source.path, "rb") as handle:
        head = handle.read(4)
        handle.seek(max(0, os.path.getsize(source.path) - 4))
        tail = handle.read(4)
    if head[:2] == b"\x1f\x8b":
        raise JobProblem(
            "VALIDATION",
            f"{source.name} is gzip-compressed, not a Parquet file: Parquet compresses inside the file; "
            "decompress it (gunzip) and ingest the .parquet file",
            {"file": source.uri},
        )
    if head != b"PAR1" or tail != b"PAR1":
        raise JobProblem(
            "VALIDATION",
            f"{source.name} is not a Parquet file (no PAR1 magic at its start and end): "
            "ingest it with its own format, or write it as Parquet",
            {"file": source.uri},
        )


def _first_problem(problems):
    if not problems:
        return None
    first = min(problems, key=lambda p: (p["file"], p.get("position") or 0))
    return JobProblem(first["code"], first["message"], first["details"])


def _write_text_sources(spark, job, staging, problems, rows):
    """All CSV or JSON files in one Spark job: partition i holds file i's rows."""
    context = spark.sparkContext
    count = len(job["sources"])
    rdd = context.parallelize(range(count), count).mapPartitionsWithIndex(
        lambda index, _: parse_file(index, job, problems, rows)
    )
    frame = spark.createDataFrame(rdd, plain_schema(job["schema"]["features"]), verifySchema=False)
    # Spark's writers take a path literally; its readers expand glob characters.
    typed_select(frame, job["schema"]["features"]).write.mode("overwrite").parquet(
        "file://" + staging
    )
    return spark_files(staging, ".parquet")


def _write_parquet_sources(spark, job, staging, problems, counted, report):
    """One Spark job per Parquet file, each written as one part in row order."""
    features = job["schema"]["features"]
    written = {}
    for index, source in enumerate(job["sources"]):
        report(
            0.05 + 0.6 * index / len(job["sources"]),
            f"converting {source['name']}",
            "validate and write",
            phaseFraction=index / len(job["sources"]),
        )
        frame = spark.read.parquet(spark_path(source["path"]))
        fields = {field.name: field for field in frame.schema.fields}
        kinds = []
        for feature in features:
            field = fields[feature["name"]]
            kind = _native_kind(field.dataType)
            if not _fits(kind, feature["type"]):
                found = field.dataType.simpleString()
                raise JobProblem(
                    "VALIDATION",
                    f'{source["name"]} column "{feature["name"]}" has type {found}, which cannot hold '
                    f"{feature['type']} values: write it as {feature['type']} or change the feature's type",
                    {"file": source["uri"], "column": feature["name"], "found": found, "expected": feature["type"]},
                )
            kinds.append(kind)
        plain = frame.select(
            *[_plain_native(F.col(f"`{f['name']}`"), fields[f["name"]].dataType) for f in features]
        )
        rows = plain.rdd.zipWithIndex().mapPartitions(
            lambda pairs, index=index, kinds=kinds: parse_native(
                pairs, job, index, kinds, problems, counted
            )
        )
        typed = typed_select(
            spark.createDataFrame(rows, plain_schema(features), verifySchema=False), features
        )
        folder = os.path.join(staging, f"file-{index}")
        typed.coalesce(1).write.mode("overwrite").parquet("file://" + folder)
        if problems.value:
            return {}
        parts = spark_files(folder, ".parquet")
        if parts:
            written[index] = parts[min(parts)]
    return written


def run_ingest(spark, spec, request, report):
    features = spec["schema"]["features"]
    if not spec.get("sources"):
        raise JobProblem(
            "VALIDATION",
            "the ingestion names no source files: give at least one",
            {"field": "sources"},
        )
    report(0, "reading the source headers", "validate and write", phaseFraction=0)
    sources = [Source(uri) for uri in spec["sources"]]
    for source in sources:
        source.check_exists()
    file_format = spec["format"]
    if file_format == "parquet":
        for source in sources:
            _check_parquet(source)
        names = [spark.read.parquet(spark_path(s.path)).columns for s in sources]
    else:
        names = [_names(source, file_format) for source in sources]
    check_columns(sources, names, spec["schema"], spec.get("ignoreExtraColumns", False))

    prefix = local_path(spec["outputPrefix"])
    staging = local_path(request["staging"])
    make_private_folder(prefix)
    problems = spark.sparkContext.accumulator([], ProblemList())
    rows = spark.sparkContext.accumulator(0)
    job = {
        "sources": [source.as_dict() for source in sources],
        "format": file_format,
        "schema": spec["schema"],
        "names": names,
    }
    try:
        total_bytes = sum(os.path.getsize(source.path) for source in sources)
        report(
            0.05,
            f"reading and validating {len(sources)} file(s)",
            "validate and write",
            phaseFraction=0,
            bytesRead=0,
            bytesTotal=total_bytes,
        )
        if file_format == "parquet":
            written = _write_parquet_sources(spark, job, staging, problems, rows, report)
        else:
            written = _write_text_sources(spark, job, staging, problems, rows)
        problem = _first_problem(problems.value)
        if problem:
            raise problem
        report(
            0.65,
            f"wrote {rows.value} rows",
            "validate and write",
            phaseFraction=1,
            bytesRead=total_bytes,
            bytesTotal=total_bytes,
            rows=rows.value,
        )
        report(0.7, "computing statistics", "statistics", phaseFraction=0)
        parts = [written[i] for i in sorted(written)]
        row_count, statistics, rows_per_part = compute_statistics(
            spark, parts, features, spec.get("statistics", "full")
        )
        if row_count == 0:
            listed = ", ".join(source.name for source in sources)
            raise JobProblem(
                "VALIDATION",
                f"{listed}: the source has no rows, only a header: add rows",
                {"files": [source.uri for source in sources]},
            )
        # A file with a header only adds no part.
        kept = [i for i in sorted(written) if rows_per_part.get(written[i], 0) > 0]
        for name in os.listdir(prefix):
            if name.startswith("part-") and name.endswith(".parquet"):
                os.remove(os.path.join(prefix, name))  # an earlier, failed attempt's parts
        files = []
        for index in kept:
            target = os.path.join(prefix, f"part-{index}.parquet")
            os.chmod(written[index], PRIVATE_FILE_MODE)
            os.replace(written[index], target)
            files.append(join_uri(spec["outputPrefix"], f"part-{index}.parquet"))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report(1, f"ingested {row_count} rows", "statistics", phaseFraction=1)
    return {"rowCount": row_count, "files": files, "statistics": statistics}

