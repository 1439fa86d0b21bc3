"""The Featurestore client: metadata, access, data and online calls over the server's gRPC API."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc

from featurestore._proto.featurestore.v1 import core_pb2, core_pb2_grpc, data_pb2, online_pb2, online_pb2_grpc
from featurestore._upload import Upload, is_uri, upload_of
from featurestore.errors import FeaturestoreError, ValidationError, error_from_rpc
from featurestore.jobs import Job
from featurestore.results import OnlineFeatures, OutputData
from featurestore.schema import schema_from
from featurestore.types import to_row

T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0
# A dead peer that never resets the connection is noticed by keepalive pings, not a hang.
_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
]


class Client:
    """A connection to a Featurestore server (``featurestore serve``).

    Args:
        endpoint: ``host:port`` of the server's gRPC port (``grpcs://host:port`` for TLS);
            FEATURESTORE_ENDPOINT when None, else ``127.0.0.1:50051``.
        token: a personal access token or an OIDC JWT; FEATURESTORE_TOKEN when None.
        tls: True for TLS with the system's roots, the path (or PEM bytes) of a CA
            certificate to trust, False for plain text; from the endpoint's scheme when None.
        timeout: the deadline of each short call, in seconds (uploads, downloads and job
            waits are bounded by keepalive instead, so a big file is not cut off).
        progress: whether waits on jobs show a tqdm progress bar by default.

    Calls raise :class:`~featurestore.errors.FeaturestoreError` subclasses named after the
    engine's error codes. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        tls: bool | str | bytes | Path | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        progress: bool = True,
    ) -> None:
        endpoint = endpoint or os.environ.get("FEATURESTORE_ENDPOINT") or "127.0.0.1:50051"
        scheme, _, rest = endpoint.partition("://")
        if rest:
            endpoint = rest
            if tls is None:
                tls = scheme in ("grpcs", "https")
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self.progress = progress
        token = token if token is not None else os.environ.get("FEATURESTORE_TOKEN")
        self._metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        if tls:
            roots = None
            if isinstance(tls, bytes):
                roots = tls
            elif isinstance(tls, (str, Path)):
                roots = Path(tls).read_bytes()
            self._channel = grpc.secure_channel(self.endpoint, grpc.ssl_channel_credentials(roots), options=_CHANNEL_OPTIONS)
        else:
            self._channel = grpc.insecure_channel(self.endpoint, options=_CHANNEL_OPTIONS)
        self._core = core_pb2_grpc.CoreServiceStub(self._channel)
        self._online = online_pb2_grpc.OnlineServiceStub(self._channel)
        self._types: dict[tuple[str, str], dict[str, str]] = {}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection."""
        self._channel.close()

    def __repr__(self) -> str:
        return f"Client(endpoint={self.endpoint!r})"

    # --- plumbing -------------------------------------------------------------------------

    def _call(self, method: Any, request: Any, timeout: float | None = -1.0) -> Any:
        try:
            return method(request, metadata=self._metadata, timeout=self.timeout if timeout == -1.0 else timeout)
        except grpc.RpcError as error:
            raise error_from_rpc(error, self.endpoint) from None

    def _stream(self, responses: Iterator[T]) -> Iterator[T]:
        try:
            yield from responses
        except grpc.RpcError as error:
            raise error_from_rpc(error, self.endpoint) from None

    def _upload_call(self, method: Any, header_message: Any, upload: Upload) -> Any:
        def requests() -> Iterator[Any]:
            message_type = type(header_message)
            yield header_message
            total = 0
            for chunk in upload.chunks:
                total += len(chunk)
                yield message_type(chunk=chunk)
            # Only a stream that ends with the byte count is taken as whole: a client cut off
            # mid-upload (killed, or its source failing) leaves nothing on the server.
            yield message_type(end=data_pb2.UploadEnd(total_bytes=total))

        try:
            return method(requests(), metadata=self._metadata)
        except grpc.RpcError as error:
            failure = upload.failure()
            if isinstance(failure, FeaturestoreError):
                raise failure from None
            if failure is not None:
                raise ValidationError(f"could not read the data to upload: {failure}") from failure
            raise error_from_rpc(error, self.endpoint) from None
        finally:
            upload.close()

    def _paged(self, method: Any, request: Any, field: str) -> list[Any]:
        items: list[Any] = []
        while True:
            response = self._call(method, request)
            items.extend(getattr(response, field))
            if not response.next_page_token:
                return items
            request.page_token = response.next_page_token

    def _job(self, response: data_pb2.JobResponse, wait: bool, progress: bool | None) -> Job:
        job = Job(self, response.job)
        if wait:
            job.wait(progress=self.progress if progress is None else progress)
        return job

    def _feature_types(self, project: str, feature_set: str) -> dict[str, str]:
        key = (project, feature_set)
        if key not in self._types:
            schema = self.get_feature_set(project, feature_set).schema
            self._types[key] = {feature.name: feature.type for feature in schema.features}
        return self._types[key]

    # --- projects ---------------------------------------------------------------------------

    def create_project(self, name: str, description: str = "", tags: Mapping[str, str] | None = None) -> core_pb2.Project:
        """Creates a project; the caller becomes its owner."""
        return self._call(self._core.CreateProject, core_pb2.CreateProjectRequest(name=name, description=description, tags=tags or {}))

    def get_project(self, name: str) -> core_pb2.Project:
        """A project by name."""
        return self._call(self._core.GetProject, core_pb2.GetProjectRequest(name=name))

    def list_projects(self, name_prefix: str = "", owner: str = "", tag: str | tuple[str, str] | None = None, text: str = "") -> list[core_pb2.Project]:
        """The projects the caller may see, filtered by name prefix, owner, tag (a key, or a
        (key, value) pair) or text; every page."""
        request = core_pb2.ListProjectsRequest(name_prefix=name_prefix, owner=owner, text=text)
        _set_tag_filter(request, tag)
        return self._paged(self._core.ListProjects, request, "projects")

    def update_project(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        replace_tags: bool = False,
        expected_revision: int | None = None,
    ) -> core_pb2.Project:
        """Changes a project's description or tags (merged, or replaced with ``replace_tags``);
        ``expected_revision`` makes a concurrent change a ConflictError."""
        request = core_pb2.UpdateProjectRequest(name=name, tags=tags or {}, replace_tags=replace_tags)
        if description is not None:
            request.description = description
        if expected_revision is not None:
            request.expected_revision = expected_revision
        return self._call(self._core.UpdateProject, request)

    def delete_project(self, name: str, force: bool = False) -> None:
        """Deletes a project (with its feature sets and data when ``force``)."""
        self._call(self._core.DeleteProject, core_pb2.DeleteProjectRequest(name=name, force=force))

    # --- feature sets -----------------------------------------------------------------------

    def register_feature_set(
        self,
        project: str,
        name: str,
        schema: Any,
        *,
        primary_key: str | Iterable[str] | None = None,
        event_time: str | None = None,
        sensitive: Iterable[str] = (),
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        time_to_live: str | None = None,
    ) -> core_pb2.FeatureSet:
        """Registers a feature set (version 1.0).

        ``schema`` is a dict shaped like a schema file, a schema file's path, or data whose
        column types make the schema: a pandas DataFrame (its dtypes), a pyarrow Table or
        Schema, with ``primary_key`` and ``event_time`` naming the key and event-time columns
        and ``sensitive`` the features only sensitive consumers may read. ``time_to_live`` is
        an ISO 8601 duration (``P30D``).
        """
        definition = schema_from(schema, primary_key=primary_key, event_time=event_time, sensitive=sensitive)
        request = core_pb2.RegisterFeatureSetRequest(
            project=project,
            name=name,
            schema=definition.schema,
            description=description if description is not None else definition.description,
            tags=tags if tags is not None else definition.tags,
            time_to_live=time_to_live if time_to_live is not None else definition.time_to_live,
        )
        return self._call(self._core.RegisterFeatureSet, request)

    def get_feature_set(self, project: str, name: str, version: str | None = None) -> core_pb2.FeatureSet:
        """A feature set at its latest version, or at ``version`` (``"2"`` or ``"2.1"``)."""
        return self._call(self._core.GetFeatureSet, core_pb2.GetFeatureSetRequest(project=project, name=name, version=version or ""))

    def list_feature_sets(
        self, project: str, name_prefix: str = "", tag: str | tuple[str, str] | None = None, feature: str = "", text: str = ""
    ) -> list[core_pb2.FeatureSet]:
        """A project's feature sets, filtered by name prefix, tag, feature name or text."""
        request = core_pb2.ListFeatureSetsRequest(project=project, name_prefix=name_prefix, feature=feature, text=text)
        _set_tag_filter(request, tag)
        return self._paged(self._core.ListFeatureSets, request, "feature_sets")

    def update_feature_set(
        self,
        project: str,
        name: str,
        *,
        schema: Any = None,
        primary_key: str | Iterable[str] | None = None,
        event_time: str | None = None,
        sensitive: Iterable[str] = (),
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        replace_tags: bool = False,
        time_to_live: str | None = None,
        expected_revision: int | None = None,
    ) -> core_pb2.FeatureSet:
        """Changes a feature set. A new ``schema`` (as :meth:`register_feature_set` takes it)
        that changes the features makes a new major version; description, tags (merged, or
        replaced with ``replace_tags``) and ``time_to_live`` (``"none"`` removes it) a new
        minor one."""
        request = core_pb2.UpdateFeatureSetRequest(project=project, name=name, tags=tags or {}, replace_tags=replace_tags)
        if schema is not None:
            request.schema.CopyFrom(schema_from(schema, primary_key=primary_key, event_time=event_time, sensitive=sensitive).schema)
        if description is not None:
            request.description = description
        if time_to_live is not None:
            request.time_to_live = time_to_live
        if expected_revision is not None:
            request.expected_revision = expected_revision
        self._types.pop((project, name), None)
        return self._call(self._core.UpdateFeatureSet, request)

    def set_feature_set_tags(self, project: str, name: str, tags: Mapping[str, str], replace: bool = False) -> core_pb2.FeatureSet:
        """Adds (or, with ``replace``, replaces all) tags of a feature set."""
        return self.update_feature_set(project, name, tags=tags, replace_tags=replace)

    def feature_set_versions(self, project: str, name: str) -> list[core_pb2.FeatureSetVersion]:
        """Every version of a feature set, oldest first, with its schema and changes."""
        request = core_pb2.ListFeatureSetVersionsRequest(project=project, name=name)
        return list(self._call(self._core.ListFeatureSetVersions, request).versions)

    def delete_feature_set(self, project: str, name: str) -> None:
        """Deletes a feature set."""
        self._types.pop((project, name), None)
        self._call(self._core.DeleteFeatureSet, core_pb2.DeleteFeatureSetRequest(project=project, name=name))

    # --- users, tokens, permissions -------------------------------------------------------

    def create_user(self, name: str, admin: bool = False, email: str = "") -> core_pb2.User:
        """Creates a user (admins only)."""
        return self._call(self._core.CreateUser, core_pb2.CreateUserRequest(name=name, admin=admin, email=email))

    def list_users(self) -> list[core_pb2.User]:
        """Every user (admins only)."""
        return self._paged(self._core.ListUsers, core_pb2.ListUsersRequest(), "users")

    def set_user_admin(self, name: str, admin: bool) -> core_pb2.User:
        """Makes a user an admin, or not (admins only)."""
        return self._call(self._core.SetUserAdmin, core_pb2.SetUserAdminRequest(name=name, admin=admin))

    def create_token(self, name: str, expires_in: str = "", user: str = "") -> core_pb2.CreateAccessTokenResponse:
        """Creates a personal access token for the caller (or, for admins, ``user``).
        ``expires_in`` is an ISO 8601 duration. The response's ``secret`` is shown once."""
        return self._call(self._core.CreateAccessToken, core_pb2.CreateAccessTokenRequest(name=name, expires_in=expires_in, user=user))

    def list_tokens(self, user: str = "") -> list[core_pb2.AccessToken]:
        """The caller's tokens (or, for admins, ``user``'s)."""
        return list(self._call(self._core.ListAccessTokens, core_pb2.ListAccessTokensRequest(user=user)).tokens)

    def revoke_token(self, token_id: str) -> core_pb2.AccessToken:
        """Revokes a token by id."""
        return self._call(self._core.RevokeAccessToken, core_pb2.RevokeAccessTokenRequest(id=token_id))

    def grant(self, project: str, user: str, role: str) -> core_pb2.Permission:
        """Gives ``user`` a role on ``project``: owner, editor, sensitive_consumer, consumer or viewer."""
        return self._call(self._core.GrantPermission, core_pb2.GrantPermissionRequest(project=project, user=user, role=role))

    def revoke(self, project: str, user: str) -> bool:
        """Removes ``user``'s role on ``project``; False when there was none."""
        return self._call(self._core.RevokePermission, core_pb2.RevokePermissionRequest(project=project, user=user)).revoked

    def permissions(self, project: str) -> list[core_pb2.Permission]:
        """Who holds which role on ``project``."""
        return list(self._call(self._core.ListPermissions, core_pb2.ListPermissionsRequest(project=project)).permissions)

    # --- jobs -------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job:
        """A job by id."""
        return Job(self, self._call(self._core.GetJob, data_pb2.GetJobRequest(id=job_id)))

    def list_jobs(self, state: str | None = None, type: str = "") -> list[Job]:
        """The caller's jobs (everyone's for admins), by state (``running``…) and type."""
        request = data_pb2.ListJobsRequest(type=type)
        if state:
            request.state = data_pb2.JobState.Value(f"JOB_STATE_{state.upper()}")
        return [Job(self, message) for message in self._paged(self._core.ListJobs, request, "jobs")]

    def cancel_job(self, job_id: str) -> Job:
        """Asks the server to cancel a job."""
        return Job(self, self._call(self._core.CancelJob, data_pb2.CancelJobRequest(id=job_id)))

    def _watch_job(self, job_id: str) -> Iterator[data_pb2.Job]:
        events = self._core.WatchJob(data_pb2.WatchJobRequest(id=job_id), metadata=self._metadata)
        for event in self._stream(events):
            yield event.job

    # --- data -------------------------------------------------------------------------------

    def ingest(
        self,
        project: str,
        feature_set: str,
        source: Any,
        *,
        idempotency_key: str = "",
        ignore_extra_columns: bool = False,
        wait: bool = True,
        progress: bool | None = None,
    ) -> Job:
        """Ingests rows into a feature set.

        ``source`` is a local file (CSV, Parquet or JSON Lines, sent as it is), a local folder,
        a pandas DataFrame, a pyarrow Table or RecordBatchReader (streamed as Parquet in chunks,
        in constant memory, columns cast to the features' types), or a storage URI
        (``s3://…``) the server reads itself. Waits for the job unless ``wait=False`` (then
        returns it running); the job's ``result`` holds ``ingestionId`` and ``rowCount``.
        """
        options = data_pb2.IngestOptions(idempotency_key=idempotency_key, ignore_extra_columns=ignore_extra_columns, wait=False)
        if is_uri(source):
            request = data_pb2.IngestRequest(project=project, feature_set=feature_set, source=source, options=options)
            return self._job(self._call(self._core.Ingest, request), wait, progress)
        # A local file goes as it is; anything read here is cast to the features' types.
        is_file = isinstance(source, (str, Path)) and Path(source).is_file()
        types = None if is_file else self._feature_types(project, feature_set)
        upload = upload_of(source, types, name=feature_set)
        header = data_pb2.IngestUploadHeader(project=project, feature_set=feature_set, format=upload.format, file_name=upload.file_name, options=options)
        response = self._upload_call(self._core.IngestUpload, data_pb2.IngestUploadRequest(header=header), upload)
        return self._job(response, wait, progress)

    def ingestions(self, project: str, feature_set: str, version: str | None = None) -> list[data_pb2.Ingestion]:
        """A feature set's ingestions, oldest first."""
        request = data_pb2.ListIngestionsRequest(project=project, feature_set=feature_set, version=version or "")
        return list(self._call(self._core.ListIngestions, request).ingestions)

    def get_ingestion(self, project: str, feature_set: str, ingestion_id: str, version: str | None = None) -> data_pb2.Ingestion:
        """One ingestion with its statistics per feature."""
        request = data_pb2.GetIngestionRequest(project=project, feature_set=feature_set, ingestion_id=ingestion_id, version=version or "")
        return self._call(self._core.GetIngestion, request)

    def revert(self, project: str, feature_set: str, ingestion_id: str, *, wait: bool = True, progress: bool | None = None) -> Job:
        """Reverts an ingestion: its rows are no longer retrieved nor in training sets."""
        request = data_pb2.RevertIngestionRequest(project=project, feature_set=feature_set, ingestion_id=ingestion_id, wait=False)
        return self._job(self._call(self._core.RevertIngestion, request), wait, progress)

    def retrieve(
        self,
        project: str,
        feature_set: str,
        *,
        version: str | None = None,
        as_of: str | dt.datetime | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        latest: bool = False,
        wait: bool = True,
        progress: bool | None = None,
    ) -> OutputData:
        """A feature set's rows (all of them, those with event times in [start, end), or the
        latest per key), optionally as they were after an ingestion id or at a time
        (``as_of``). Returns the output, downloaded on first use as Parquet."""
        request = data_pb2.RetrieveRequest(
            project=project, feature_set=feature_set, version=version or "", latest=latest, format=data_pb2.OUTPUT_FORMAT_PARQUET, wait=False
        )
        _set_as_of(request.as_of, as_of)
        if start is not None:
            request.__getattribute__("from").FromDatetime(_utc(start))
        if end is not None:
            request.to.FromDatetime(_utc(end))
        job = self._job(self._call(self._core.Retrieve, request), wait, progress)
        return OutputData(job, self._download)

    def get_historical_features(
        self,
        entities: Any,
        features: Sequence[str],
        *,
        entity_time: str | None = None,
        as_of: str | dt.datetime | None = None,
        wait: bool = True,
        progress: bool | None = None,
    ) -> OutputData:
        """A point-in-time correct training set: for each entity row, the values of
        ``features`` (``project/featureset:feature``, ``project/featureset@2:feature``,
        ``project/featureset:*``) as they were at the row's ``entity_time``.

        ``entities`` is a pandas DataFrame, a pyarrow Table, a local file (CSV, Parquet, JSON
        Lines) or a storage URI. ``entity_time`` names its timestamp column; when None, the one
        timestamp column of a DataFrame or Table. Returns the output (the same columns and
        order as the CLI's), downloaded on first use: ``.to_pandas()``, ``.to_arrow()``,
        ``.to_parquet(path)``.
        """
        entity_time = entity_time or _only_timestamp_column(entities)
        header = data_pb2.HistoricalHeader(features=list(features), entity_time=entity_time, format=data_pb2.OUTPUT_FORMAT_PARQUET, wait=False)
        _set_as_of(header.as_of, as_of)
        if is_uri(entities):
            header.entities = entities
            response = self._call(self._core.Historical, iter([data_pb2.HistoricalRequest(header=header)]), timeout=None)
        else:
            upload = upload_of(entities, None, name="entities")
            header.entity_format = upload.format
            header.entity_file_name = upload.file_name
            response = self._upload_call(self._core.Historical, data_pb2.HistoricalRequest(header=header), upload)
        return OutputData(self._job(response, wait, progress), self._download)

    def _download(self, job_id: str, path: Path) -> None:
        chunks = self._core.DownloadOutput(data_pb2.DownloadOutputRequest(job_id=job_id, remove_after=True), metadata=self._metadata)
        with path.open("wb") as file:
            for chunk in self._stream(chunks):
                file.write(chunk.data)

    # --- online -----------------------------------------------------------------------------

    def get_online_features(self, features: Sequence[str], entity_rows: Iterable[Mapping[str, Any]]) -> OnlineFeatures:
        """The latest values of ``features`` (``project/featureset[@version]:feature``, or
        ``:*``; several feature sets allowed) for each entity row (a dict of the key columns of
        every referenced feature set). Returns a mapping of ``<featureset>__<feature>`` to one
        value per entity, with ``.to_pandas()``."""
        request = online_pb2.GetOnlineFeaturesRequest(features=list(features), entities=[to_row(row) for row in _records(entity_rows)])
        return OnlineFeatures(self._call(self._online.GetOnlineFeatures, request))

    def push(
        self,
        project: str,
        feature_set: str,
        rows: Any,
        *,
        wait_applied: bool = False,
        wait_synced: bool | None = None,
        timeout_ms: int = 0,
    ) -> online_pb2.PushResponse:
        """Pushes rows (a pandas DataFrame or a list of dicts) to a feature set through the
        queue; validated whole (a bad row fails the call and nothing is pushed). With
        ``wait_applied``, returns once they are readable online; with ``wait_synced``, once
        committed offline."""
        types = self._feature_types(project, feature_set)
        request = online_pb2.PushRequest(
            project=project,
            feature_set=feature_set,
            rows=[to_row(row, types) for row in _records(rows)],
            timeout_ms=timeout_ms,
            wait_applied=wait_applied,
        )
        if wait_synced is not None:
            request.wait_synced = wait_synced
        waits = wait_applied or bool(wait_synced)
        return self._call(self._online.Push, request, timeout=max(self.timeout, (timeout_ms or 30_000) / 1000 * 2) if waits else -1.0)

    def materialize(
        self, project: str, feature_set: str, *, version: str | None = None, rebuild: bool = False, wait: bool = True, progress: bool | None = None
    ) -> Job:
        """Copies a feature set's offline data to the online store (as a job)."""
        request = online_pb2.MaterializeRequest(project=project, feature_set=feature_set, version=version or "", rebuild=rebuild)
        job = self.get_job(self._call(self._online.Materialize, request).job_id)
        if wait:
            job.wait(progress=self.progress if progress is None else progress)
        return job


def _set_tag_filter(request: Any, tag: str | tuple[str, str] | None) -> None:
    if tag is None:
        return
    if isinstance(tag, str):
        request.tag.key = tag
    else:
        request.tag.key, request.tag.value = tag


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _set_as_of(message: data_pb2.AsOf, as_of: str | dt.datetime | None) -> None:
    if as_of is None:
        return
    if isinstance(as_of, dt.datetime):
        message.time.FromDatetime(_utc(as_of))
    else:
        message.ingestion_id = as_of


def _records(rows: Any) -> Iterable[Mapping[str, Any]]:
    if type(rows).__name__ == "DataFrame" and hasattr(rows, "to_dict"):
        return rows.to_dict(orient="records")
    if hasattr(rows, "to_pylist"):  # a pyarrow Table or RecordBatch
        return rows.to_pylist()
    return rows


def _only_timestamp_column(entities: Any) -> str:
    import pyarrow as pa

    schema: pa.Schema | None = None
    if isinstance(entities, (pa.Table, pa.RecordBatch)):
        schema = entities.schema
    elif type(entities).__name__ == "DataFrame" and hasattr(entities, "iloc"):
        schema = pa.Schema.from_pandas(entities.head(100), preserve_index=False)
    if schema is not None:
        stamps = [field.name for field in schema if pa.types.is_timestamp(field.type)]
        if len(stamps) == 1:
            return stamps[0]
    raise ValidationError("give entity_time=… naming the entities' timestamp column", details={"field": "entity_time"})
