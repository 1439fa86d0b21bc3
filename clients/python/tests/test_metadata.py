"""Projects, feature sets (from a dict, a schema file, a DataFrame), versions, tags, users, tokens,
permissions and errors, against a real server on each backend."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd
import pytest

from featurestore import (
    AlreadyExistsError,
    Client,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
    ValidationError,
)

SCHEMA = {
    "primaryKey": ["customer_id"],
    "eventTime": "ts",
    "features": [
        {"name": "customer_id", "type": "string"},
        {"name": "ts", "type": "timestamp"},
        {"name": "visits", "type": "int64", "description": "visits this month"},
    ],
    "description": "customers",
    "tags": {"team": "growth"},
}


def test_projects_create_get_list_update_delete(admin: Client) -> None:
    name = f"p_{uuid.uuid4().hex[:10]}"
    created = admin.create_project(name, description="first", tags={"team": "ml"})
    assert created.name == name and created.tags["team"] == "ml"
    assert admin.get_project(name).description == "first"
    assert name in [p.name for p in admin.list_projects(name_prefix=name[:6])]
    assert name in [p.name for p in admin.list_projects(tag=("team", "ml"))]
    updated = admin.update_project(name, description="second", tags={"tier": "gold"})
    assert updated.description == "second" and dict(updated.tags) == {"team": "ml", "tier": "gold"}
    with pytest.raises(AlreadyExistsError) as exists:
        admin.create_project(name)
    assert exists.value.code == "ALREADY_EXISTS" and name in exists.value.message
    with pytest.raises(ConflictError) as stale:
        admin.update_project(name, description="third", expected_revision=created.revision)
    assert stale.value.code == "CONFLICT" and stale.value.grpc_code is not None and stale.value.grpc_code.name == "ABORTED"
    admin.delete_project(name)
    with pytest.raises(NotFoundError) as missing:
        admin.get_project(name)
    assert missing.value.code == "NOT_FOUND"


def test_feature_sets_from_a_dict_a_schema_file_and_a_dataframe(admin: Client, project: str, tmp_path: Path) -> None:
    from_dict = admin.register_feature_set(project, "customers", SCHEMA)
    assert (from_dict.version.major, from_dict.version.minor) == (1, 0)
    assert [f.name for f in from_dict.schema.features] == ["customer_id", "ts", "visits"]
    assert from_dict.description == "customers" and from_dict.tags["team"] == "growth"

    schema_file = tmp_path / "orders.json"
    schema_file.write_text(json.dumps({**SCHEMA, "primaryKey": ["order_id"], "features": [{"name": "order_id", "type": "int64"}, *SCHEMA["features"][1:]]}))
    from_file = admin.register_feature_set(project, "orders", schema_file, time_to_live="P30D")
    assert from_file.schema.primary_key == ["order_id"] and from_file.time_to_live == "P30D"

    frame = pd.DataFrame(
        {
            "user_id": pd.Series([1, 2], dtype="int64"),
            "at": pd.to_datetime(["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]),
            "score": pd.Series([0.5, 1.5], dtype="float32"),
            "name": ["a", "b"],
            "active": [True, False],
            "tags": [["x"], ["y", "z"]],
            "day": [pd.Timestamp("2026-01-01").date(), pd.Timestamp("2026-01-02").date()],
            "blob": [b"\x00", b"\x01"],
            "small": pd.Series([1, 2], dtype="int32"),
        }
    )
    from_frame = admin.register_feature_set(project, "users", frame, primary_key="user_id", event_time="at", sensitive=["name"])
    types = {f.name: f.type for f in from_frame.schema.features}
    assert types == {
        "user_id": "int64",
        "at": "timestamp",
        "score": "float32",
        "name": "string",
        "active": "bool",
        "tags": "list<string>",
        "day": "date",
        "blob": "bytes",
        "small": "int32",
    }
    assert [f.name for f in from_frame.schema.features if f.sensitive] == ["name"]
    assert {fs.name for fs in admin.list_feature_sets(project)} == {"customers", "orders", "users"}


def test_versions_and_tags(admin: Client, project: str) -> None:
    admin.register_feature_set(project, "customers", SCHEMA)
    tagged = admin.set_feature_set_tags(project, "customers", {"tier": "gold"})
    assert (tagged.version.major, tagged.version.minor) == (1, 1) and tagged.tags["tier"] == "gold"
    wider = {**SCHEMA, "features": [*SCHEMA["features"], {"name": "spend", "type": "float64"}]}
    second = admin.update_feature_set(project, "customers", schema=wider)
    assert second.version.major == 2
    versions = admin.feature_set_versions(project, "customers")
    assert [(v.version.major, v.version.minor) for v in versions] == [(1, 0), (1, 1), (2, 0)]
    assert [f.name for f in admin.get_feature_set(project, "customers", version="1").schema.features] == ["customer_id", "ts", "visits"]


def test_a_schema_error_is_a_validation_error_naming_the_field(admin: Client, project: str) -> None:
    bad = {**SCHEMA, "primaryKey": ["nope"]}
    with pytest.raises(ValidationError) as error:
        admin.register_feature_set(project, "bad", bad)
    assert error.value.code == "VALIDATION" and "nope" in error.value.message
    with pytest.raises(ValidationError, match="primary_key"):
        admin.register_feature_set(project, "bad", pd.DataFrame({"a": [1]}))


def test_users_tokens_and_permissions(served, admin: Client, project: str) -> None:
    user = f"u_{uuid.uuid4().hex[:8]}"
    admin.create_user(user)
    assert user in [u.name for u in admin.list_users()]
    token = admin.create_token("notebook", user=user, expires_in="P1D")
    assert token.secret.startswith("fst_")
    with served.client(token.secret) as as_user:
        with pytest.raises((PermissionDeniedError, NotFoundError)):
            as_user.get_project(project)
        admin.grant(project, user, "viewer")
        assert as_user.get_project(project).name == project
        assert [(p.user, p.role) for p in admin.permissions(project) if p.user == user] == [(user, "viewer")]
        with pytest.raises(PermissionDeniedError) as denied:
            as_user.register_feature_set(project, "customers", SCHEMA)
        assert denied.value.code == "PERMISSION_DENIED"
        assert admin.revoke(project, user) is True
        assert [t.name for t in admin.list_tokens(user=user)] == ["notebook"]
        admin.revoke_token(token.token.id)
        with pytest.raises(UnauthenticatedError):
            as_user.list_projects()
    assert admin.set_user_admin(user, True).admin is True


def test_a_wrong_token_is_an_unauthenticated_error(served) -> None:
    with served.client("fst_" + "x" * 43) as wrong:
        with pytest.raises(UnauthenticatedError) as error:
            wrong.list_projects()
    assert error.value.code == "UNAUTHENTICATED" and error.value.message


def test_endpoint_and_token_from_the_environment(served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATURESTORE_ENDPOINT", served.address)
    monkeypatch.setenv("FEATURESTORE_TOKEN", served.admin_token)
    with Client() as client:
        assert client.endpoint == served.address
        client.list_projects()
