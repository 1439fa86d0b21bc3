"""Sources turned into a stream of byte chunks for the upload RPCs, in constant memory.

A local CSV, Parquet or JSON Lines file is sent as it is. Anything tabular (a pandas
DataFrame, a pyarrow Table, a RecordBatchReader, a folder of files) is written as Parquet by a
producer thread into a bounded queue that the gRPC request iterator drains, so neither the
whole Parquet file nor a second copy of the data is ever held in memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore._proto.featurestore.v1 import data_pb2
from featurestore.errors import ValidationError
from featurestore.types import arrow_type

CHUNK_BYTES = 1 << 20
ROWS_PER_BATCH = 65_536
_FORMAT_OF_SUFFIX = {
    ".csv": data_pb2.DATA_FORMAT_CSV,
    ".parquet": data_pb2.DATA_FORMAT_PARQUET,
    ".pq": data_pb2.DATA_FORMAT_PARQUET,
    ".json": data_pb2.DATA_FORMAT_JSON,
    ".jsonl": data_pb2.DATA_FORMAT_JSON,
    ".ndjson": data_pb2.DATA_FORMAT_JSON,
}
_DATASET_FORMAT = {data_pb2.DATA_FORMAT_CSV: "csv", data_pb2.DATA_FORMAT_PARQUET: "parquet", data_pb2.DATA_FORMAT_JSON: "json"}


def is_uri(source: Any) -> bool:
    """True for a storage URI the server reads itself (``s3://…``, ``abfss://…``)."""
    return isinstance(source, str) and "://" in source and not source.startswith("file://")


def format_of(path: Path) -> int:
    """The DataFormat of a local file, from its name."""
    suffix = path.suffix.lower()
    if suffix not in _FORMAT_OF_SUFFIX:
        raise ValidationError(
            f"cannot tell the format of {str(path)!r} from its name: expected a name ending in "
            f"{', '.join(sorted(_FORMAT_OF_SUFFIX))}",
            details={"source": str(path)},
        )
    return _FORMAT_OF_SUFFIX[suffix]


class Upload:
    """A source's bytes in chunks, its DataFormat and the file name the server records."""

    def __init__(self, chunks: Iterator[bytes], data_format: int, file_name: str, producer: _ParquetProducer | None = None):
        self.chunks = chunks
        self.format = data_format
        self.file_name = file_name
        self._producer = producer

    def failure(self) -> BaseException | None:
        """The error that stopped the producer of the chunks, if one did."""
        return self._producer.error if self._producer else None

    def close(self) -> None:
        """Stops the producer (when the call ended before reading every chunk)."""
        if self._producer:
            self._producer.stop()


def upload_of(source: Any, types: Mapping[str, str] | None = None, name: str = "data") -> Upload:
    """The upload of a local file or folder, a DataFrame, a Table or a RecordBatchReader.

    ``types`` (feature name → feature type) casts tabular data's columns to the feature set's
    types on the way (a pandas int64 column of a float64 feature, nanosecond timestamps…).
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise ValidationError(f"no file or folder {str(path)!r}: give an existing path, a storage URI, a DataFrame or a pyarrow Table", details={"source": str(path)})
        if path.is_file():
            return Upload(_file_chunks(path), format_of(path), path.name)
        batches, schema = _folder_batches(path)
        producer = _ParquetProducer(schema, batches, types)
        return Upload(producer.chunks(), data_pb2.DATA_FORMAT_PARQUET, f"{path.name}.parquet", producer)
    batches, schema = _tabular_batches(source)
    producer = _ParquetProducer(schema, batches, types)
    return Upload(producer.chunks(), data_pb2.DATA_FORMAT_PARQUET, f"{name}.parquet", producer)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            yield chunk


def _folder_batches(path: Path) -> tuple[Iterable[pa.RecordBatch], pa.Schema]:
    import pyarrow.dataset as ds

    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
    if not files:
        raise ValidationError(f"folder {str(path)!r} holds no data file", details={"source": str(path)})
    formats = {format_of(p) for p in files}
    if len(formats) != 1:
        raise ValidationError(f"folder {str(path)!r} mixes file formats; ingest one format at a time", details={"source": str(path)})
    dataset = ds.dataset([str(p) for p in files], format=_DATASET_FORMAT[formats.pop()])
    return dataset.to_batches(batch_size=ROWS_PER_BATCH), dataset.schema


def _tabular_batches(source: Any) -> tuple[Iterable[pa.RecordBatch], pa.Schema]:
    if isinstance(source, pa.Table):
        return source.to_batches(max_chunksize=ROWS_PER_BATCH), source.schema
    if isinstance(source, pa.RecordBatchReader):
        return source, source.schema
    if isinstance(source, pa.RecordBatch):
        return [source], source.schema
    if type(source).__name__ == "DataFrame" and hasattr(source, "iloc"):
        frame = source
        schema = pa.Schema.from_pandas(frame.head(ROWS_PER_BATCH), preserve_index=False)
        # Slices keep the Arrow copy to one batch at a time.
        batches = (
            pa.RecordBatch.from_pandas(frame.iloc[start : start + ROWS_PER_BATCH], schema=schema, preserve_index=False)
            for start in range(0, len(frame), ROWS_PER_BATCH)
        )
        return batches, schema.remove_metadata()
    raise ValidationError(
        f"cannot read data from a {type(source).__name__}: give a local file or folder, a storage URI, a pandas DataFrame, a pyarrow Table or a RecordBatchReader",
        details={"source": type(source).__name__},
    )


def _target_schema(schema: pa.Schema, types: Mapping[str, str] | None) -> pa.Schema:
    if not types:
        return schema
    fields = []
    for field in schema:
        feature_type = types.get(field.name)
        fields.append(pa.field(field.name, arrow_type(feature_type)) if feature_type else field)
    return pa.schema(fields)


class _QueueSink:
    """A write-only file object handing what is written to a bounded queue."""

    def __init__(self, chunks: queue.Queue[Any], stopped: threading.Event):
        self._chunks = chunks
        self._stopped = stopped
        self._buffer = bytearray()
        self._position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._buffer += view
        self._position += len(view)
        while len(self._buffer) >= CHUNK_BYTES:
            self._put(bytes(self._buffer[:CHUNK_BYTES]))
            del self._buffer[:CHUNK_BYTES]
        return len(view)

    def _put(self, chunk: bytes) -> None:
        while not self._stopped.is_set():
            try:
                self._chunks.put(chunk, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Stopped()

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed and self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        self.closed = True


class _Stopped(Exception):
    pass


_DONE = object()


class _ParquetProducer:
    """Writes record batches as one Parquet file into a bounded queue, on its own thread."""

    def __init__(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch], types: Mapping[str, str] | None):
        self._schema = _target_schema(schema, types)
        self._batches = batches
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=4)
        self._stopped = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="featurestore-parquet-upload", daemon=True)

    def chunks(self) -> Iterator[bytes]:
        """The Parquet file's bytes in chunks; re-raises what stopped the writer."""
        self._thread.start()
        while True:
            item = self._queue.get()
            if item is _DONE:
                if self.error is not None:
                    raise self.error
                return
            yield item

    def stop(self) -> None:
        """Makes the writer thread give up (the call ended before reading every chunk)."""
        self._stopped.set()

    def _run(self) -> None:
        sink = _QueueSink(self._queue, self._stopped)
        try:
            with pq.ParquetWriter(pa.PythonFile(sink, mode="w"), self._schema, compression="zstd") as writer:
                for batch in self._batches:
                    writer.write_batch(self._cast(batch))
            sink.close()
        except _Stopped:
            return
        except BaseException as error:  # handed to the request iterator, which re-raises it
            self.error = error
        finally:
            while not self._stopped.is_set():
                try:
                    self._queue.put(_DONE, timeout=0.2)
                    break
                except queue.Full:
                    continue

    def _cast(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.schema.equals(self._schema):
            return batch
        columns = []
        for field, column in zip(self._schema, batch.columns):
            try:
                columns.append(column.cast(field.type) if column.type != field.type else column)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise ValidationError(
                    f"column {field.name!r} of type {column.type} cannot be read as the feature's type ({field.type}): {error}",
                    details={"column": field.name},
                ) from None
        return pa.RecordBatch.from_arrays(columns, schema=self._schema)
