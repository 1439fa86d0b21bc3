"""Writing a job's output as one file at its URI, as the DuckDB engine does.

Spark writes a folder of parts; the output is written with one partition into a temporary
folder beside the target (`<uri>.tmp-<id>`), and its single part is renamed into place, so a
reader never sees half a file and a failure leaves nothing but the temporary folder, which
the job (or the runner, when the job was killed) removes.
"""

import os
import shutil

from feature_columns import csv_text, json_value
from storage_paths import PRIVATE_FILE_MODE, local_path, make_private_folder

_SUFFIX = {"csv": ".csv", "json": ".json", "parquet": ".parquet"}


def output_columns(columns, file_format):
    """(column, name, feature type or None) as the format writes them: CSV text, JSON values."""
    selected = []
    for column, name, feature_type in columns:
        if feature_type is not None and file_format == "csv":
            column = csv_text(column, feature_type)
        elif feature_type is not None and file_format == "json":
            column = json_value(column, feature_type)
        selected.append(column.alias(name))
    return selected


def write_output(frame, output, temporary_uri):
    """Writes `frame` (already in output order) as the one file `output.uri`; its row count."""
    path = local_path(output["uri"])
    temporary = local_path(temporary_uri)
    make_private_folder(os.path.dirname(path))
    file_format = output["format"]
    try:
        writer = frame.coalesce(1).write.mode("overwrite")
        if file_format == "csv":
            writer = (
                writer.option("header", True)
                .option("quote", '"')
                .option("escape", '"')
                .option("nullValue", "")
                .option("emptyValue", '""')
                .option("ignoreLeadingWhiteSpace", False)
                .option("ignoreTrailingWhiteSpace", False)
                .option("lineSep", "\n")
            )
            writer.csv(spark_path_for_write(temporary))
        elif file_format == "json":
            writer.option("ignoreNullFields", False).json(spark_path_for_write(temporary))
        else:
            writer.parquet(spark_path_for_write(temporary))
        parts = sorted(
            name
            for name in os.listdir(temporary)
            if name.startswith("part-") and name.endswith(_SUFFIX[file_format])
        )
        if len(parts) != 1:
            raise RuntimeError(f"expected one part in {temporary}, found {len(parts)}")
        part = os.path.join(temporary, parts[0])
        os.chmod(part, PRIVATE_FILE_MODE)
        os.replace(part, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def spark_path_for_write(path):
    """Spark's writers take a path literally (no globbing)."""
    return "file://" + path

