"""A server stopped in the middle of a call, or one that never answers: a clear error, no hang."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from conftest import Served, start_serve
from featurestore import Client, DeadlineExceededError, UnavailableError

SCHEMA = {
    "primaryKey": ["id"],
    "eventTime": "ts",
    "features": [{"name": "id", "type": "int64"}, {"name": "ts", "type": "timestamp"}, {"name": "text", "type": "string"}],
}


@pytest.fixture
def own_server() -> Iterator[Served]:
    """A server of this test's own, which it may kill."""
    folder = Path(tempfile.mkdtemp(prefix="featurestore-pytest-"))
    server = start_serve(folder)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_server_killed_during_an_upload_fails_the_call_as_unavailable(own_server: Served) -> None:
    client = own_server.client()
    client.create_project("p")
    client.register_feature_set("p", "rows", SCHEMA)
    schema = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")), ("text", pa.string())])
    killed = threading.Event()

    def batches() -> Iterator[pa.RecordBatch]:
        # Incompressible text, so each batch is bytes on the wire.
        for number in range(1_000):
            if number == 3:
                killed.set()
                own_server.stop()  # SIGKILL mid-upload: no goodbye on the connection
            ids = pa.array(range(number * 1000, (number + 1) * 1000), pa.int64())
            stamps = pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)] * 1000, pa.timestamp("us", tz="UTC"))
            texts = pa.array([f"{i:x}" * 40 + str(time.perf_counter_ns()) for i in range(1000)])
            yield pa.RecordBatch.from_arrays([ids, stamps, texts], schema=schema)

    started = time.monotonic()
    with pytest.raises(UnavailableError) as error:
        client.ingest("p", "rows", pa.RecordBatchReader.from_batches(schema, batches()), progress=False)
    assert killed.is_set(), error.value
    assert time.monotonic() - started < 30
    assert error.value.code == "UNAVAILABLE"
    assert f"the server at {own_server.address} did not answer" in error.value.message
    # Later calls fail at once too, instead of waiting for a server that is gone.
    started = time.monotonic()
    with pytest.raises(UnavailableError):
        client.list_projects()
    assert time.monotonic() - started < 10
    client.close()


def test_a_server_that_never_answers_hits_the_deadline() -> None:
    # Accepts connections and says nothing: no HTTP/2 settings, no status, ever.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    host, port = listener.getsockname()
    started = time.monotonic()
    with Client(f"{host}:{port}", token="fst_x", timeout=1.5) as client:
        with pytest.raises(DeadlineExceededError) as error:
            client.list_projects()
    assert isinstance(error.value, UnavailableError)
    assert 1.0 < time.monotonic() - started < 15
    listener.close()
    for connection in accepted:
        connection.close()
