"""Uploads are produced only as fast as gRPC sends them: the Parquet writer blocks on a bounded
queue, so a source far larger than memory is never read ahead (no server needed)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pyarrow as pa

from conftest import until
from featurestore._upload import CHUNK_BYTES, upload_of

SCHEMA = pa.schema([("id", pa.int64()), ("noise", pa.binary())])
ROWS = 5_000
NOISE = 400  # incompressible bytes per row: about 2 MB of Parquet per batch


def test_the_parquet_producer_waits_for_the_sender_instead_of_reading_ahead() -> None:
    pulled: list[int] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for number in range(10_000):  # 20 GB if it were all read
            pulled.append(number)
            noise = pa.array([os.urandom(NOISE) for _ in range(ROWS)], pa.binary())
            yield pa.RecordBatch.from_arrays([pa.array(range(ROWS), pa.int64()), noise], schema=SCHEMA)

    upload = upload_of(pa.RecordBatchReader.from_batches(SCHEMA, batches()))
    chunks = iter(upload.chunks)
    first = next(chunks)
    assert len(first) == CHUNK_BYTES
    producer = upload._producer
    assert producer is not None
    # The producer fills its queue, then blocks: it stops pulling batches from the source.
    until(lambda: producer._queue.full(), "the upload queue to fill")
    read_when_full = len(pulled)
    for _ in range(3):
        next(chunks)
    until(lambda: producer._queue.full(), "the upload queue to fill again")
    assert read_when_full <= 5 and len(pulled) <= read_when_full + 3, pulled
    upload.close()
    until(lambda: not producer._thread.is_alive(), "the producer to stop")
    assert len(pulled) < 20
