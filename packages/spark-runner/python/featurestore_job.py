"""The PySpark application of @featurestore/spark-runner: runs job specs sent by the runner.

Started by `spark-submit featurestore_job.py HOST:PORT` (the runner adds the other modules of
this folder with --py-files). It connects to the runner at HOST:PORT (spark-submit does not
hand its own standard input to the Python driver) and reads requests, one JSON object a line:

    {"id": "…", "spec": {…job spec…}, "result": "file:///…/result.json",
     "staging": "file:///…", "temporary": "file:///…"}

runs each in turn on one SparkSession, and writes a result document to `result`:
`{"ok": true, "result": {…}}` or `{"ok": false, "error": {"code", "message", "details"}}`.
Back on the connection go `{"ready": true}` once Spark is up, `{"id", "progress": {"fraction",
"message"}}` while a job runs and `{"id", "done": true}` once its result document is in place.
It ends when the runner closes the connection: one request per submission, or many on one
long-lived application.
"""

import json
import os
import socket
import sys
import traceback

from pyspark.sql import SparkSession

from ingest_job import run_ingest
from job_problems import JobProblem
from point_in_time import run_historical
from retrieve_job import run_retrieve
from storage_paths import local_path

JOBS = {"ingest": run_ingest, "retrieve": run_retrieve, "historical": run_historical}


class RunnerConnection:
    """The line-delimited JSON connection to the runner."""

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self._socket = socket.create_connection((host, int(port)))
        self._reader = self._socket.makefile("r", encoding="utf-8")

    def send(self, message):
        self._socket.sendall((json.dumps(message) + "\n").encode("utf-8"))

    def requests(self):
        for line in self._reader:
            if line.strip():
                yield json.loads(line)


def _write_result(uri, document):
    path = local_path(uri)
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(document, handle, allow_nan=False)
    os.replace(temporary, path)


def _run(spark, request, connection):
    spec = request["spec"]
    job = JOBS.get(spec.get("type"))
    if job is None:
        raise JobProblem(
            "NOT_SUPPORTED",
            f"the spark compute engine cannot run {json.dumps(spec.get('type'))} jobs: it runs {', '.join(JOBS)}",
            {"type": spec.get("type")},
        )

    def report(fraction, message, phase, **figures):
        progress = {"fraction": fraction, "message": message, "phase": phase, **figures}
        connection.send({"id": request["id"], "progress": progress})

    return job(spark, spec, request, report)


def main():
    connection = RunnerConnection(sys.argv[1])
    spark = (
        SparkSession.builder.appName("featurestore")
        # Times without a zone mean UTC, whatever the machine's zone.
        .config("spark.sql.session.timeZone", "UTC")
        # Parts as the DuckDB engine writes them: INT64 microsecond timestamps, zstd.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.parquet.compression.codec", "zstd")
        .config("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .getOrCreate()
    )
    # No .crc files beside the parts (the local file system's checksums).
    spark.sparkContext._jsc.hadoopConfiguration().set("fs.file.impl.disable.cache", "true")
    spark._jvm.org.apache.hadoop.fs.FileSystem.get(
        spark.sparkContext._jsc.hadoopConfiguration()
    ).setWriteChecksum(False)
    connection.send({"ready": True})
    for request in connection.requests():
        try:
            document = {"ok": True, "result": _run(spark, request, connection)}
        except JobProblem as problem:
            document = {"ok": False, "error": problem.document()}
        except Exception as error:  # reported to the runner, which names the job
            document = {
                "ok": False,
                "error": {
                    "code": "INTERNAL",
                    "message": f"the {request['spec'].get('type')} job failed on Spark: {str(error).splitlines()[0] if str(error) else type(error).__name__}",
                    "details": {"trace": traceback.format_exc()[-4000:]},
                },
            }
        _write_result(request["result"], document)
        connection.send({"id": request["id"], "done": True})
    spark.stop()


if __name__ == "__main__":
    main()
