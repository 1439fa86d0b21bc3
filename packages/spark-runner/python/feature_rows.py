"""A feature set version's committed rows, each with its place among them.

Each row carries `__seq` (its ingestion's sequence), `__part` (its part's place in the
ingestion) and `__row` (its row number in the part): the parts hold the rows in source order,
so (sequence, part, row) orders rows exactly as (sequence, position in the ingestion) does —
the tie-break of the point-in-time contract — without counting any part's rows. Parts written
before positions were derived carry the position as a `__row` column instead.
"""

import os
from functools import reduce

from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType

from feature_columns import typed_type
from job_problems import JobProblem
from storage_paths import local_path, spark_path


def feature_rows(spark, schema, inputs):
    """The rows of every ingestion: the schema's columns typed, `__seq`, `__part`, `__row`."""
    features = schema["features"]
    frames = []
    for ingestion in inputs:
        sequence = ingestion["sequence"]
        for part, uri in enumerate(ingestion["uris"]):
            path = local_path(uri)
            if not os.path.exists(path):
                raise JobProblem(
                    "NOT_FOUND",
                    f"data file {uri} of the ingestion with sequence {sequence} is missing: the "
                    "ingestion's files were deleted or moved; revert that ingestion",
                    {"uri": uri, "sequence": sequence},
                )
            frame = spark.read.parquet(spark_path(path))
            stored = "__row" in frame.columns
            columns = [
                F.col(f"`{f['name']}`").cast(typed_type(f["type"])).alias(f["name"]) for f in features
            ]
            frames.append(
                frame.select(
                    *columns,
                    F.lit(sequence).cast(LongType()).alias("__seq"),
                    F.lit(0 if stored else part).cast(LongType()).alias("__part"),
                    (F.col("__row") if stored else F.col("_metadata.row_index"))
                    .cast(LongType())
                    .alias("__row"),
                )
            )
    if not frames:
        fields = [StructField(f["name"], typed_type(f["type"]), True) for f in features]
        fields += [StructField(name, LongType(), True) for name in ("__seq", "__part", "__row")]
        return spark.createDataFrame([], StructType(fields))
    return reduce(lambda left, right: left.unionByName(right), frames)


def newest_first(schema):
    """The order that puts a key's newest row first: time, then sequence, part and row."""
    return [
        F.col(f"`{schema['eventTime']}`").desc(),
        F.col("__seq").desc(),
        F.col("__part").desc(),
        F.col("__row").desc(),
    ]
