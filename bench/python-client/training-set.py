"""A 1M-row training set to pandas through the Python client, beside reading the very same
Parquet file locally with pyarrow (and Feast's get_historical_features().to_df() when Feast is
installed in the venv, which the project's does not do).

    $(scripts/python-client) bench/python-client/training-set.py [--rows 1000000] [--repeat 3]

Starts `featurestore serve` on the embedded default in a scratch folder, registers a feature
set, ingests one row per entity (an int64 key, a timestamp and four features of different
types), then per repeat: the historical job with every entity, its output downloaded and
read into pandas by the client (`.to_pandas()`), the output written by `.to_parquet()` and the
same file read locally with `pyarrow.parquet.read_table(...).to_pandas()`. Prints the medians
and the ratio client (download + read) / local read; the goal is at most 1.5x. The job's own
time (the point-in-time join on the server) is printed apart: it is not the client's.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

CLIENT_TESTS = Path(__file__).resolve().parents[2] / "clients" / "python" / "tests"
sys.path.insert(0, str(CLIENT_TESTS))

from conftest import start_serve  # noqa: E402  (the tests' way of starting a server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="featurestore-bench-"))
    server = start_serve(folder / "store")
    try:
        run(server, folder, args.rows, args.repeat)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def run(server, folder: Path, rows: int, repeat: int) -> None:
    fs = server.client()
    rng = np.random.default_rng(7)
    ids = np.arange(rows, dtype=np.int64)
    data = pd.DataFrame(
        {
            "id": ids,
            "ts": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 86_400, rows), unit="s"),
            "amount": rng.random(rows),
            "count": rng.integers(0, 1_000, rows, dtype=np.int64),
            "flag": rng.random(rows) < 0.5,
            "label": pd.Series(rng.integers(0, 50, rows)).map(lambda n: f"label-{n}"),
        }
    )
    fs.create_project("bench")
    fs.register_feature_set("bench", "events", data, primary_key="id", event_time="ts")
    started = time.perf_counter()
    fs.ingest("bench", "events", data, progress=False)
    print(f"ingest {rows} rows: {time.perf_counter() - started:.2f} s")
    entities = pd.DataFrame({"id": ids, "at": pd.Timestamp("2026-01-02", tz="UTC")})
    features = [f"bench/events:{name}" for name in ("amount", "count", "flag", "label")]

    jobs, through_client, local = [], [], []
    for attempt in range(repeat):
        started = time.perf_counter()
        training = fs.get_historical_features(entities, features, entity_time="at", progress=False)
        jobs.append(time.perf_counter() - started)
        started = time.perf_counter()
        frame = training.to_pandas()
        through_client.append(time.perf_counter() - started)
        assert len(frame) == rows, len(frame)
        path = training.to_parquet(folder / f"training-{attempt}.parquet")
        started = time.perf_counter()
        local_frame = pq.read_table(path).to_pandas()
        local.append(time.perf_counter() - started)
        assert len(local_frame) == rows
        training.close()

    client_median, local_median = statistics.median(through_client), statistics.median(local)
    print(f"historical job (server side, upload of the entities included): median {statistics.median(jobs):.2f} s")
    print(f"client: download + to_pandas: median {client_median:.3f} s")
    print(f"local:  pyarrow read_table(same file).to_pandas(): median {local_median:.3f} s")
    print(f"ratio client / local: {client_median / local_median:.2f}x (goal <= 1.5x)")
    try:
        import feast  # noqa: F401
    except ImportError:
        print("feast: not installed in this venv, not compared")


if __name__ == "__main__":
    main()
