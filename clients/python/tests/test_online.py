"""Online: push from a DataFrame or a list of dicts, get_online_features back, every type."""

from __future__ import annotations

import datetime as dt
import uuid

import pandas as pd
import pyarrow as pa
import pytest

from featurestore import Client, PermissionDeniedError, ValidationError

BIG = 2**53 + 1  # not a float64: a client that goes through doubles loses the last digit
UTC = dt.timezone.utc
PARIS = dt.timezone(dt.timedelta(hours=1))

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
        {"name": "seen", "type": "timestamp"},
        {"name": "counts", "type": "list<int64>"},
        {"name": "names", "type": "list<string>"},
    ],
}

ROWS = [
    {
        "id": BIG,
        "ts": dt.datetime(2026, 1, 1, 12, tzinfo=UTC),
        "flag": True,
        "small": -(2**31),
        "big": -(2**63),
        "ratio": 0.5,
        "amount": 1e-300,
        "label": "héllo ✓",
        "raw": b"\x00\xff",
        "day": dt.date(1969, 12, 31),
        # 13:30 in Paris is 12:30 UTC: an aware time is an instant, whatever its zone.
        "seen": dt.datetime(2026, 3, 1, 13, 30, 15, 123000, tzinfo=PARIS),
        "counts": [1, BIG, -3],
        "names": ["a", "", "c"],
    },
    {
        "id": 2,
        "ts": dt.datetime(2026, 1, 1, 12, tzinfo=UTC),
        "flag": None,
        "small": None,
        "big": 2**63 - 1,
        "ratio": None,
        "amount": None,
        "label": None,
        "raw": None,
        "day": None,
        "seen": None,
        "counts": [],
        "names": None,
    },
]


def _expected(row: dict) -> dict:
    seen = row["seen"]
    return {**row, "seen": seen.astimezone(UTC) if seen else None}


def test_every_type_round_trips_through_push_and_get(admin: Client, project: str) -> None:
    admin.register_feature_set(project, "things", ALL_TYPES)
    pushed = admin.push(project, "things", ROWS, wait_applied=True)
    assert pushed.rows == 2
    got = admin.get_online_features([f"{project}/things:*"], [{"id": BIG}, {"id": 2}, {"id": 404}])
    features = [f["name"] for f in ALL_TYPES["features"] if f["name"] not in ("id", "ts")]
    for index, row in enumerate(ROWS):
        expected = _expected(row)
        assert {name: got[f"things__{name}"][index] for name in features} == {name: expected[name] for name in features}
    # A key with no value reads as nulls.
    assert all(got[column][2] is None for column in got)
    assert got.types["things__counts"] == "list<int64>"
    frame = got.to_pandas()
    assert len(frame) == 3
    # Nullable integers: the missing third row does not turn the column into lossy floats.
    assert str(frame["things__big"].dtype) == "Int64"
    assert frame["things__big"].tolist()[:2] == [-(2**63), 2**63 - 1]
    assert str(frame["things__seen"].dtype).startswith("datetime64") and "UTC" in str(frame["things__seen"].dtype)
    assert frame["things__seen"].iloc[0] == pd.Timestamp("2026-03-01T12:30:15.123Z")
    assert got.to_arrow().schema.field("things__day").type == pa.date32()


def test_push_from_a_dataframe_and_read_several_feature_sets(admin: Client, project: str) -> None:
    admin.register_feature_set(
        project,
        "customers",
        {"primaryKey": ["customer_id"], "eventTime": "ts", "features": [{"name": "customer_id", "type": "string"}, {"name": "ts", "type": "timestamp"}, {"name": "visits", "type": "int64"}]},
    )
    admin.register_feature_set(
        project,
        "stores",
        {"primaryKey": ["store_id"], "eventTime": "ts", "features": [{"name": "store_id", "type": "int32"}, {"name": "ts", "type": "timestamp"}, {"name": "city", "type": "string"}]},
    )
    frame = pd.DataFrame({"customer_id": ["c1", "c2"], "ts": pd.to_datetime(["2026-01-01", "2026-01-02"]), "visits": [3, 4]})
    admin.push(project, "customers", frame, wait_applied=True)
    admin.push(project, "stores", [{"store_id": 7, "ts": dt.datetime(2026, 1, 1), "city": "Lyon"}], wait_applied=True)
    got = admin.get_online_features(
        [f"{project}/customers:visits", f"{project}/stores:city"],
        [{"customer_id": "c2", "store_id": 7}, {"customer_id": "c1", "store_id": 8}],
    )
    assert got.to_dict() == {"customers__visits": [4, 3], "stores__city": ["Lyon", None]}
    assert list(got) == ["customers__visits", "stores__city"]


def test_a_bad_row_fails_the_push_and_pushes_nothing(admin: Client, project: str) -> None:
    admin.register_feature_set(project, "things", ALL_TYPES)
    bad = {**ROWS[0], "id": 5, "small": 2**40}
    with pytest.raises(ValidationError) as error:
        admin.push(project, "things", [{**ROWS[0], "id": 6}, bad], wait_applied=True)
    assert "small" in error.value.message
    got = admin.get_online_features([f"{project}/things:label"], [{"id": 6}])
    assert got["things__label"] == [None]


def test_a_sensitive_feature_is_refused_to_a_consumer(served, admin: Client, project: str) -> None:
    schema = {
        "primaryKey": ["id"],
        "eventTime": "ts",
        "features": [
            {"name": "id", "type": "int64"},
            {"name": "ts", "type": "timestamp"},
            {"name": "city", "type": "string"},
            {"name": "salary", "type": "float64", "sensitive": True},
        ],
    }
    admin.register_feature_set(project, "people", schema)
    admin.push(project, "people", [{"id": 1, "ts": dt.datetime(2026, 1, 1), "city": "Oslo", "salary": 10.0}], wait_applied=True)
    user = f"u_{uuid.uuid4().hex[:8]}"
    admin.create_user(user)
    admin.grant(project, user, "consumer")
    with served.client(admin.create_token("t", user=user).secret) as consumer:
        assert consumer.get_online_features([f"{project}/people:city"], [{"id": 1}]).to_dict() == {"people__city": ["Oslo"]}
        with pytest.raises(PermissionDeniedError) as refused:
            consumer.get_online_features([f"{project}/people:salary"], [{"id": 1}])
        assert "salary" in refused.value.message
        admin.grant(project, user, "sensitive_consumer")
        assert consumer.get_online_features([f"{project}/people:salary"], [{"id": 1}])["people__salary"] == [10.0]


def test_an_expired_value_is_none_and_said_to_be_expired(admin: Client, project: str) -> None:
    schema = {
        "primaryKey": ["id"],
        "eventTime": "ts",
        "features": [{"name": "id", "type": "int64"}, {"name": "ts", "type": "timestamp"}, {"name": "city", "type": "string"}],
    }
    admin.register_feature_set(project, "places", schema, time_to_live="P1D")
    now = dt.datetime.now(UTC)
    admin.push(project, "places", [{"id": 1, "ts": now - dt.timedelta(days=3), "city": "old"}, {"id": 2, "ts": now, "city": "new"}], wait_applied=True)
    got = admin.get_online_features([f"{project}/places:city"], [{"id": 1}, {"id": 2}, {"id": 3}])
    assert got["places__city"] == [None, "new", None]
    assert got.expired == {0: ["places__city"]}
