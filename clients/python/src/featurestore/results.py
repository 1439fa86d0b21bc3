"""What data calls return: online feature values, and output files of retrieve and historical."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore._proto.featurestore.v1 import online_pb2
from featurestore.types import arrow_type, from_value

if TYPE_CHECKING:
    import pandas

    from featurestore.jobs import Job


def to_pandas(table: pa.Table) -> pandas.DataFrame:
    """A table as a DataFrame whose integer and boolean columns are nullable pandas dtypes:
    pyarrow's default turns an integer column with a null into float64."""
    import pandas as pd

    nullable = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    return table.to_pandas(types_mapper=nullable.get)


class OnlineFeatures(Mapping[str, list[Any]]):
    """The latest feature values of the requested entities: a mapping of output column
    (``<featureset>__<feature>``) to one value per entity, in request order (None where a key
    has no value or it expired)."""

    def __init__(self, response: online_pb2.GetOnlineFeaturesResponse):
        self.columns: list[str] = [column.name for column in response.columns]
        self.types: dict[str, str] = {column.name: column.type for column in response.columns}
        self._values: dict[str, list[Any]] = {name: [] for name in self.columns}
        for row in response.rows:
            for name, value in zip(self.columns, row.values):
                self._values[name].append(from_value(value))
        # A None that is past its time to live, told apart from one never written.
        self.expired: dict[int, list[str]] = {entry.row: list(entry.columns) for entry in response.expired}
        """Entity index → the columns whose values are None because they expired."""

    def __getitem__(self, column: str) -> list[Any]:
        return self._values[column]

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __repr__(self) -> str:
        return f"OnlineFeatures({self._values!r})"

    def to_dict(self) -> dict[str, list[Any]]:
        """The values as a plain dict of lists."""
        return {name: list(values) for name, values in self._values.items()}

    def to_arrow(self) -> pa.Table:
        """The values as a pyarrow Table, each column typed as its feature."""
        return pa.table({name: pa.array(self._values[name], type=arrow_type(self.types[name])) for name in self.columns})

    def to_pandas(self) -> pandas.DataFrame:
        """The values as a pandas DataFrame (one row per entity), typed as the features
        (integers and booleans as pandas' nullable dtypes, so a missing value does not turn an
        int64 column into floats that lose digits beyond 2^53)."""
        return to_pandas(self.to_arrow())


class OutputData:
    """The output file of a retrieve or historical job, downloaded when first used.

    The download streams to a local temporary file (and removes the output from the server),
    so a training set larger than memory can go straight to :meth:`to_parquet`.
    """

    def __init__(self, job: Job, download: Callable[[str, Path], None]):
        self.job = job
        self._download = download
        self._local: Path | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    @property
    def row_count(self) -> int | None:
        """The number of rows the job wrote, as its result says."""
        value = self.job.result.get("rowCount")
        return int(value) if value is not None else None

    def _file(self) -> Path:
        if self._local is None:
            # A job started with wait=False: its output exists once it has ended.
            self.job.wait(progress=False)
            self._folder = tempfile.TemporaryDirectory(prefix="featurestore-")
            path = Path(self._folder.name) / "output.parquet"
            self._download(self.job.id, path)
            self._local = path
        return self._local

    def to_parquet(self, path: str | Path) -> Path:
        """Writes the output as a Parquet file at ``path`` and returns the path."""
        target = Path(path)
        shutil.copyfile(self._file(), target)
        return target

    def to_arrow(self) -> pa.Table:
        """The output as a pyarrow Table."""
        return pq.read_table(self._file())

    def to_pandas(self) -> pandas.DataFrame:
        """The output as a pandas DataFrame (integers and booleans as pandas' nullable dtypes)."""
        return to_pandas(self.to_arrow())

    def close(self) -> None:
        """Removes the local copy."""
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
            self._local = None
