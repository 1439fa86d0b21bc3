"""The historical job: the point-in-time join, one output row per entity row, in input order.

For each entity row and feature set: the newest feature row with the same key and an event
time at or before the entity's time (ties: greater ingestion sequence, then later row), its
features null past the time to live. Without a range join on the key (which blows up on hot
keys): entity and feature rows of a set are unioned and ordered per key by (time, feature
rows before entity rows, sequence, part, row); each entity row takes the last feature row
before it with `last(struct(…), ignorenulls)` over that window. The struct is null only on
entity rows, so a feature row whose features are null is still taken, and stays null.
"""

from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from feature_columns import plain_type, typed_column
from feature_rows import feature_rows
from job_problems import JobProblem, column_list
from output_files import output_columns, write_output
from parse_values import INVALID, parse_text, type_hint, why_invalid
from storage_paths import Source, SourceRef, spark_path
from text_sources import (
    CSV_ROWS_ARE,
    JSON_ROWS_ARE,
    PARQUET_ROWS_ARE,
    CsvRecords,
    csv_header,
    csv_rows,
    decode,
    json_display,
    json_keys,
    json_records,
    json_text,
    read_bytes,
)


def _check_feature_sets(spec):
    if not spec["featureSets"]:
        raise JobProblem(
            "VALIDATION", "the historical job requests no feature sets: name at least one", {"field": "featureSets"}
        )
    names = set()
    for feature_set in spec["featureSets"]:
        if feature_set["name"] in names:
            raise JobProblem(
                "VALIDATION",
                f'feature set "{feature_set["name"]}" is requested twice: its output columns would clash',
                {"featureSet": feature_set["name"]},
            )
        names.add(feature_set["name"])
        ttl = feature_set.get("timeToLiveMs")
        if ttl is not None and not ttl > 0:
            raise JobProblem(
                "VALIDATION",
                f'feature set "{feature_set["name"]}" has time to live {ttl} ms: it must be a positive number of milliseconds',
                {"featureSet": feature_set["name"], "timeToLiveMs": ttl},
            )
        known = {f["name"] for f in feature_set["schema"]["features"]}
        for feature in feature_set["features"]:
            if feature not in known:
                raise JobProblem(
                    "VALIDATION",
                    f'feature set "{feature_set["name"]}" has no feature "{feature}" (it has {", ".join(sorted(known))})',
                    {"featureSet": feature_set["name"], "feature": feature},
                )


def _feature(schema, name):
    return next(f for f in schema["features"] if f["name"] == name)


def _entity_text_rows(source, file_format):
    """(row, rows are, {column: (text, display, nested)}) of the entity file, in order."""
    text = decode(read_bytes(source.path), source)
    if file_format == "csv":
        records = CsvRecords(text, source)
        names = csv_header(records, source)
        for row, fields in csv_rows(text, source):
            yield row, CSV_ROWS_ARE, {n: (v, v, False) for n, v in zip(names, fields)}
        return
    for _, row, record in json_records(text, source):
        if not isinstance(record, dict):
            raise JobProblem(
                "VALIDATION",
                f"{source.name} row {row} ({JSON_ROWS_ARE}): the record is not a JSON object: write one object per line",
                {"file": source.uri, "row": row},
            )
        yield row, JSON_ROWS_ARE, {
            k: (json_text(v), json_display(v), isinstance(v, (dict, list))) for k, v in record.items()
        }


def _entity_problem(source, rows_are, row, message, value=None):
    details = {"file": source.uri, "row": row}
    if value is not None:
        details["value"] = value
    return JobProblem("VALIDATION", f"{source.name} row {row} ({rows_are}), {message}: fix the entity file", details)


def parse_entities(plan, problems):
    """Entity rows for the join: (erow, time µs, keys…, entity columns as text…)."""
    source = SourceRef(plan["source"])
    is_json = plan["format"] == "json"

    def shown(display):
        return display if is_json else _json_quote(display)

    try:
        rows = (
            _entity_text_rows(source, plan["format"])
            if plan["format"] != "parquet"
            else _parquet_rows(plan)
        )
        for row, rows_are, values in rows:
            time_name = plan["timeColumn"]
            raw, display, nested = values.get(time_name, (None, None, False))
            time = parse_text(raw, "timestamp") if not nested else INVALID
            if time is None:
                raise _entity_problem(
                    source, rows_are, row, f'column "{time_name}": the time is empty: every entity row needs a time'
                )
            if time is INVALID:
                why = why_invalid("timestamp", display, is_json) or f"is not a time (expected {type_hint('timestamp')})"
                raise _entity_problem(source, rows_are, row, f'column "{time_name}": {shown(display)} {why}', display)
            keys = []
            for set_name, key_name, key_type in plan["keys"]:
                raw, display, nested = values.get(key_name, (None, None, False))
                value = INVALID if nested else parse_text(raw, key_type)
                if value is INVALID:
                    raise _entity_problem(
                        source,
                        rows_are,
                        row,
                        f'column "{key_name}": {shown(display)} is not a {key_type} key of feature set '
                        f'"{set_name}" (expected {type_hint(key_type)})',
                        display,
                    )
                keys.append(value)
            passthrough = [values.get(name, (None,))[0] for name in plan["columns"]]
            yield [row - 1, time, *keys, *passthrough]
    except JobProblem as problem:
        problems.add([dict(problem.document(), file=0)])


def _parquet_rows(plan):
    for row, values in plan["parquetRows"]:
        yield row, PARQUET_ROWS_ARE, {n: (v, v, False) for n, v in values.items()}


def _json_quote(text):
    import json

    return json.dumps(text, ensure_ascii=False)


def _entity_columns(spark, source, file_format):
    if file_format == "parquet":
        return spark.read.parquet(spark_path(source.path)).columns
    text = decode(read_bytes(source.path), source)
    if file_format == "csv":
        return csv_header(CsvRecords(text, source), source)
    return json_keys(text, source)


def _entity_column(names, source, name, role):
    if name not in names:
        raise JobProblem(
            "VALIDATION",
            f'{source.name} has no column "{name}" ({role}; found: {column_list(names)}): add it to the entity file',
            {"file": source.uri, "column": name},
        )


def run_historical(spark, spec, request, report):
    from row_parsing import ProblemList

    _check_feature_sets(spec)
    report(0, "reading the entity file", "read entities")
    entities = spec["entities"]
    source = Source(entities["uri"], "entity file")
    source.check_exists()
    names = _entity_columns(spark, source, entities["format"])
    _entity_column(names, source, entities["timeColumn"], "the entity time column")
    keys = []
    for feature_set in spec["featureSets"]:
        for key in feature_set["schema"]["primaryKey"]:
            _entity_column(names, source, key, f'a primary key of feature set "{feature_set["name"]}"')
            keys.append((feature_set["name"], key, _feature(feature_set["schema"], key)["type"]))
    outputs = list(names)
    for feature_set in spec["featureSets"]:
        for feature in feature_set["features"]:
            name = f"{feature_set['name']}__{feature}"
            if name in outputs:
                raise JobProblem(
                    "VALIDATION",
                    f'output column "{name}" would appear twice: rename the entity file\'s column or the feature set',
                    {"column": name},
                )
            outputs.append(name)

    plan = {
        "source": source.as_dict(),
        "format": entities["format"],
        "timeColumn": entities["timeColumn"],
        "keys": keys,
        "columns": names,
    }
    if entities["format"] == "parquet":
        frame = spark.read.parquet(spark_path(source.path))
        text = frame.select(*[_native_text(frame, name).alias(name) for name in names])
        plan["parquetRows"] = [
            (i + 1, row.asDict()) for i, row in enumerate(text.collect())
        ]
    problems = spark.sparkContext.accumulator([], ProblemList())
    fields = [StructField("__erow", LongType()), StructField("__t", LongType())]
    fields += [StructField(f"__k{j}", plain_type(key_type)) for j, (_, _, key_type) in enumerate(keys)]
    fields += [StructField(f"__c{i}", StringType()) for i in range(len(names))]
    parsed = spark.sparkContext.parallelize([0], 1).mapPartitions(lambda _: parse_entities(plan, problems))
    entity_frame = spark.createDataFrame(parsed, StructType(fields), verifySchema=False)
    # Parsed once, then joined once per feature set.
    entity_frame = entity_frame.persist()
    try:
        entity_frame.count()
        if problems.value:
            first = problems.value[0]
            raise JobProblem(first["code"], first["message"], first["details"])
        result = entity_frame.select("__erow", *[f"__c{i}" for i in range(len(names))])
        columns = [(F.col(f"__c{i}"), name, None) for i, name in enumerate(names)]
        key_index = 0
        for s, feature_set in enumerate(spec["featureSets"]):
            report(
                0.1 + 0.6 * s / len(spec["featureSets"]),
                f'joining feature set "{feature_set["name"]}"',
                f"join {feature_set['name']}",
            )
            key_columns = []
            for key in feature_set["schema"]["primaryKey"]:
                key_type = _feature(feature_set["schema"], key)["type"]
                key_columns.append((f"__k{key_index}", key, key_type))
                key_index += 1
            joined = _join_set(spark, entity_frame, feature_set, key_columns, s)
            result = result.join(joined, on="__erow", how="left")
            for m, feature in enumerate(feature_set["features"]):
                feature_type = _feature(feature_set["schema"], feature)["type"]
                columns.append((F.col(f"__s{s}_{m}"), f"{feature_set['name']}__{feature}", feature_type))
        frame = result.orderBy("__erow").select(*output_columns(columns, spec["output"]["format"]))
        report(0.8, "writing the output", "write output")
        write_output(frame, spec["output"], request["temporary"])
        row_count = entity_frame.count()
    finally:
        entity_frame.unpersist()
    report(1, f"wrote {row_count} rows", "write output", phaseFraction=1, rows=row_count)
    return {"rowCount": row_count, "uri": spec["output"]["uri"]}


def _join_set(spark, entity_frame, feature_set, key_columns, s):
    """(__erow, __s<s>_<m>…): each entity row's features from one feature set."""
    schema = feature_set["schema"]
    time_name = schema["eventTime"]
    features = feature_set["features"]
    entity_side = entity_frame.select(
        *[typed_column(F.col(alias), key_type).alias(f"__j{j}") for j, (alias, _, key_type) in enumerate(key_columns)],
        F.timestamp_micros("__t").alias("__ts"),
        F.lit(1).alias("__kind"),
        F.lit(None).cast(LongType()).alias("__seq"),
        F.lit(None).cast(LongType()).alias("__part"),
        F.lit(None).cast(LongType()).alias("__row"),
        F.col("__erow"),
    )
    rows = feature_rows(spark, schema, feature_set["inputs"])
    value = F.struct(
        F.col(f"`{time_name}`").alias("__et"),
        *[F.col(f"`{name}`").alias(f"__f{m}") for m, name in enumerate(features)],
    )
    feature_side = rows.select(
        *[F.col(f"`{key}`").alias(f"__j{j}") for j, (_, key, _) in enumerate(key_columns)],
        F.col(f"`{time_name}`").alias("__ts"),
        F.lit(0).alias("__kind"),
        "__seq",
        "__part",
        "__row",
        F.lit(None).cast(LongType()).alias("__erow"),
        value.alias("__v"),
    )
    entity_side = entity_side.withColumn("__v", F.lit(None).cast(feature_side.schema["__v"].dataType))
    union = feature_side.unionByName(entity_side)
    window = (
        Window.partitionBy(*[f"__j{j}" for j in range(len(key_columns))])
        .orderBy("__ts", "__kind", "__seq", "__part", "__row")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    last = F.last("__v", ignorenulls=True).over(window)
    matched = union.withColumn("__last", last).where(F.col("__kind") == 1)
    # A key that did not parse or is empty matches nothing.
    for j in range(len(key_columns)):
        matched = matched.withColumn("__last", F.when(F.col(f"__j{j}").isNotNull(), F.col("__last")))
    ttl = feature_set.get("timeToLiveMs")
    if ttl is not None:
        ttl_micros = int(round(ttl * 1000))
        fresh = F.unix_micros("__last.__et") > F.unix_micros("__ts") - F.lit(ttl_micros)
        matched = matched.withColumn("__last", F.when(fresh, F.col("__last")))
    return matched.select(
        "__erow", *[F.col(f"__last.__f{m}").alias(f"__s{s}_{m}") for m in range(len(features))]
    )


def _native_text(frame, name):
    """A Parquet entity column as CSV text (times ISO 8601, bytes base64, lists JSON)."""
    from pyspark.sql.types import ArrayType, BinaryType, DateType, MapType, StructType as Struct, TimestampNTZType, TimestampType

    column = F.col(f"`{name}`")
    data_type = frame.schema[name].dataType
    if isinstance(data_type, (TimestampType, TimestampNTZType)):
        column = column.cast(TimestampType())
        return F.when(
            F.unix_micros(column) % 1000 == 0, F.date_format(column, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
        ).otherwise(F.date_format(column, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"))
    if isinstance(data_type, DateType):
        return F.date_format(column, "yyyy-MM-dd")
    if isinstance(data_type, BinaryType):
        return F.base64(column)
    if isinstance(data_type, (ArrayType, MapType, Struct)):
        return F.to_json(column)
    return column.cast(StringType())
