"""Data calls: ingest (DataFrame, Table, file, folder, storage URI), ingestions, revert, retrieve
and training sets to pandas/pyarrow/Parquet, jobs and their progress; types round trip."""

from __future__ import annotations

import datetime as dt
import urllib.request
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Client, Job, ValidationError

UTC = dt.timezone.utc
BIG = 2**53 + 1

PAYMENTS = {
    "primaryKey": ["user_id"],
    "eventTime": "ts",
    "features": [
        {"name": "user_id", "type": "int64"},
        {"name": "ts", "type": "timestamp"},
        {"name": "amount", "type": "float64"},
        {"name": "merchant", "type": "string"},
    ],
}


def _day1() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [1, 2, 3],
            "ts": pd.to_datetime(["2026-01-01T10:00:00Z", "2026-01-02T00:00:00Z", "2026-01-05T00:00:00Z"]),
            "amount": [10.5, 20.0, 30.0],
            "merchant": ["m1", "m2", "m3"],
        }
    )


def test_the_whole_flow_register_ingest_training_set_retrieve_revert(admin: Client, project: str, tmp_path: Path) -> None:
    frame = _day1()
    admin.register_feature_set(project, "payments", frame, primary_key="user_id", event_time="ts")
    job = admin.ingest(project, "payments", frame, idempotency_key="day1", progress=False)
    assert isinstance(job, Job) and job.state == "succeeded" and job.result["rowCount"] == 3
    [ingestion] = admin.ingestions(project, "payments")
    assert ingestion.id == job.result["ingestionId"] and ingestion.row_count == 3 and ingestion.state == "committed"
    statistics = admin.get_ingestion(project, "payments", ingestion.id).statistics
    assert statistics["amount"].count == 3 and statistics["amount"].max_json == "30"

    entities = pd.DataFrame({"user_id": [1, 2, 3], "at": pd.to_datetime(["2026-01-01T12:00:00Z", "2026-01-03T00:00:00Z", "2026-01-03T00:00:00Z"])})
    training = admin.get_historical_features(entities, [f"{project}/payments:amount", f"{project}/payments:merchant"], entity_time="at", progress=False)
    table = training.to_arrow()
    assert table.column_names == ["user_id", "at", "payments__amount", "payments__merchant"]
    frame_out = training.to_pandas()
    # Point in time: user 3's payment came after the entity's time.
    assert frame_out["payments__amount"].tolist()[:2] == [10.5, 20.0] and pd.isna(frame_out["payments__amount"].iloc[2])
    assert frame_out["payments__merchant"].tolist()[:2] == ["m1", "m2"]
    written = training.to_parquet(tmp_path / "training.parquet")
    assert pq.read_table(written).equals(table)
    assert training.row_count == 3

    latest = admin.retrieve(project, "payments", latest=True, progress=False).to_pandas()
    assert sorted(latest["user_id"].tolist()) == [1, 2, 3]

    reverted = admin.revert(project, "payments", ingestion.id, progress=False)
    assert reverted.state == "succeeded"
    assert admin.ingestions(project, "payments")[0].state == "reverted"
    assert len(admin.retrieve(project, "payments", progress=False).to_arrow()) == 0


ALL_TYPES = {
    "primaryKey": ["id"],
    "eventTime": "ts",
    "features": [
        {"name": "id", "type": "int64"},
        {"name": "ts", "type": "timestamp"},
        {"name": "flag", "type": "bool"},
        {"name": "small", "type": "int32"},
        {"name": "big", "type": "int64"},
        {"name": "ratio", "type": "float32"},
        {"name": "amount", "type": "float64"},
        {"name": "label", "type": "string"},
        {"name": "raw", "type": "bytes"},
        {"name": "day", "type": "date"},
        {"name": "counts", "type": "list<int64>"},
        {"name": "names", "type": "list<string>"},
    ],
}


def test_every_type_round_trips_through_ingest_and_retrieve(admin: Client, project: str) -> None:
    admin.register_feature_set(project, "things", ALL_TYPES)
    paris = dt.timezone(dt.timedelta(hours=1))
    table = pa.table(
        {
            "id": pa.array([BIG, 2, -(2**63)], pa.int64()),
            # Zoned times are instants: 13:00 in Paris is 12:00 UTC.
            "ts": pa.array([dt.datetime(2026, 1, 1, 13, tzinfo=paris), dt.datetime(2026, 1, 2, tzinfo=UTC), dt.datetime(1970, 1, 1, tzinfo=UTC)], pa.timestamp("us", tz="Europe/Paris")),
            "flag": [True, None, False],
            "small": pa.array([-(2**31), None, 2**31 - 1], pa.int32()),
            "big": pa.array([2**63 - 1, None, BIG], pa.int64()),
            "ratio": pa.array([0.5, None, -1.25], pa.float32()),
            # Not 1e300: the engine's statistics overflow on it (STDDEV_SAMP out of range, INTERNAL).
            "amount": [1e-300, None, 1.5e100],
            "label": ["héllo ✓", None, ""],
            "raw": pa.array([b"\x00\xff", None, b""], pa.binary()),
            "day": pa.array([dt.date(1969, 12, 31), None, dt.date(2026, 2, 28)], pa.date32()),
            "counts": pa.array([[1, BIG], None, []], pa.list_(pa.int64())),
            "names": pa.array([["a", None], [], None], pa.list_(pa.string())),
        }
    )
    admin.ingest(project, "things", table, progress=False)
    back = admin.retrieve(project, "things", progress=False).to_arrow().sort_by("id")
    expected = table.sort_by("id")
    for name in table.column_names:
        got, want = back.column(name).to_pylist(), expected.column(name).to_pylist()
        if name == "ts":
            got = [value.astimezone(UTC) for value in got]
            want = [value.astimezone(UTC) for value in want]
        assert got == want, name
    # Through pandas too: nullable integers keep every digit.
    frame = admin.retrieve(project, "things", progress=False).to_pandas().sort_values("id")
    assert str(frame["big"].dtype) == "Int64"
    assert [None if pd.isna(x) else x for x in frame["big"].tolist()] == [BIG, None, 2**63 - 1]


def test_ingest_a_csv_file_a_folder_and_a_job_not_waited_for(admin: Client, project: str, tmp_path: Path) -> None:
    admin.register_feature_set(project, "payments", PAYMENTS)
    csv = tmp_path / "day1.csv"
    csv.write_text("user_id,ts,amount,merchant\n1,2026-01-01T00:00:00Z,1.5,a\n2,2026-01-01T00:00:00Z,2.5,b\n")
    assert admin.ingest(project, "payments", csv, progress=False).result["rowCount"] == 2
    folder = tmp_path / "days"
    folder.mkdir()
    for day in (2, 3):
        pq.write_table(pa.table({"user_id": [day], "ts": pa.array([dt.datetime(2026, 1, day)], pa.timestamp("ms")), "amount": [float(day)], "merchant": ["x"]}), folder / f"day{day}.parquet")
    running = admin.ingest(project, "payments", folder, wait=False)
    assert running.id and admin.get_job(running.id).id == running.id
    assert running.wait(progress=False).result["rowCount"] == 2
    sources = [i.source for i in admin.ingestions(project, "payments")]
    assert sources == ["upload:day1.csv", "upload:days.parquet"]
    # Entities from a local file, sent as it is.
    entities = tmp_path / "entities.csv"
    entities.write_text("user_id,at\n3,2026-01-04T00:00:00Z\n1,2026-01-04T00:00:00Z\n")
    training = admin.get_historical_features(entities, [f"{project}/payments:amount"], entity_time="at", progress=False)
    assert training.to_pandas()["payments__amount"].tolist() == [3.0, 1.5]


def test_a_progress_bar_shows_unless_turned_off(admin: Client, project: str, capsys: pytest.CaptureFixture[str]) -> None:
    admin.register_feature_set(project, "payments", PAYMENTS)
    admin.ingest(project, "payments", _day1(), progress=True)
    assert "100%" in capsys.readouterr().err
    admin.ingest(project, "payments", _day1(), progress=False)
    assert capsys.readouterr().err == ""


def test_bad_data_is_a_validation_error_naming_the_column(admin: Client, project: str, tmp_path: Path) -> None:
    admin.register_feature_set(project, "payments", PAYMENTS)
    with pytest.raises(ValidationError) as cast:
        admin.ingest(project, "payments", pd.DataFrame({"user_id": [1], "ts": ["not a time"], "amount": [1.0], "merchant": ["m"]}), progress=False)
    assert "ts" in cast.value.message
    csv = tmp_path / "bad.csv"
    csv.write_text("user_id,ts,amount,merchant\n1,2026-01-01T00:00:00Z,lots,a\n")
    with pytest.raises(ValidationError) as parsed:
        admin.ingest(project, "payments", csv, progress=False)
    assert "amount" in parsed.value.message
    assert [i.state for i in admin.ingestions(project, "payments")] == []


def test_ingest_from_a_storage_uri(served, admin: Client, project: str) -> None:
    if served.landing is None:
        pytest.skip("the embedded default has no object storage to name by URI")
    from conftest import service_env

    uri = f"{served.landing}{project}/day.csv"
    endpoint = service_env()["FEATURESTORE_TEST_S3_ENDPOINT"]
    # A content type: urllib's default (a form) makes moto's web server swallow the body.
    body = b"user_id,ts,amount,merchant\n7,2026-01-01T00:00:00Z,7.5,s3\n"
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{uri.removeprefix('s3://')}", data=body, method="PUT", headers={"Content-Type": "text/csv"}), timeout=30).close()
    admin.register_feature_set(project, "payments", PAYMENTS)
    job = admin.ingest(project, "payments", uri, progress=False)
    assert job.result["rowCount"] == 1
    assert admin.ingestions(project, "payments")[0].source == uri


def test_materialize_jobs_listed_and_a_training_set_not_waited_for(admin: Client, project: str) -> None:
    admin.register_feature_set(project, "payments", PAYMENTS)
    ingested = admin.ingest(project, "payments", _day1(), progress=False)
    assert ingested.id in [job.id for job in admin.list_jobs(type="ingest")]
    assert ingested.id in [job.id for job in admin.list_jobs(state="succeeded")]
    materialized = admin.materialize(project, "payments", progress=False)
    assert materialized.type == "materialize" and materialized.state == "succeeded"
    online = admin.get_online_features([f"{project}/payments:merchant"], [{"user_id": 3}, {"user_id": 1}])
    assert online["payments__merchant"] == ["m3", "m1"]
    entities = pd.DataFrame({"user_id": [2], "at": pd.to_datetime(["2026-01-03T00:00:00Z"])})
    pending = admin.get_historical_features(entities, [f"{project}/payments:amount"], wait=False)
    assert pending.job.id  # returned at once; reading it waits for the job
    assert pending.to_pandas()["payments__amount"].tolist() == [20.0]
    assert pending.job.state == "succeeded"
