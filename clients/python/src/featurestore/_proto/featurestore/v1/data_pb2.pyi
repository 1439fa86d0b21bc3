import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DataFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_FORMAT_UNSPECIFIED: _ClassVar[DataFormat]
    DATA_FORMAT_CSV: _ClassVar[DataFormat]
    DATA_FORMAT_PARQUET: _ClassVar[DataFormat]
    DATA_FORMAT_JSON: _ClassVar[DataFormat]

class OutputFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTPUT_FORMAT_UNSPECIFIED: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_CSV: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_PARQUET: _ClassVar[OutputFormat]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_PENDING: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
DATA_FORMAT_UNSPECIFIED: DataFormat
DATA_FORMAT_CSV: DataFormat
DATA_FORMAT_PARQUET: DataFormat
DATA_FORMAT_JSON: DataFormat
OUTPUT_FORMAT_UNSPECIFIED: OutputFormat
OUTPUT_FORMAT_CSV: OutputFormat
OUTPUT_FORMAT_PARQUET: OutputFormat
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_PENDING: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState

class JobError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "type", "state", "progress", "message", "request_json", "result_json", "error", "cancel_requested", "created_by", "project_id", "created_at", "started_at", "finished_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_JSON_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    state: JobState
    progress: float
    message: str
    request_json: str
    result_json: str
    error: JobError
    cancel_requested: bool
    created_by: str
    project_id: str
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., progress: _Optional[float] = ..., message: _Optional[str] = ..., request_json: _Optional[str] = ..., result_json: _Optional[str] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., cancel_requested: _Optional[bool] = ..., created_by: _Optional[str] = ..., project_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class JobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class IngestOptions(_message.Message):
    __slots__ = ("idempotency_key", "ignore_extra_columns", "wait")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    IGNORE_EXTRA_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    ignore_extra_columns: bool
    wait: bool
    def __init__(self, idempotency_key: _Optional[str] = ..., ignore_extra_columns: _Optional[bool] = ..., wait: _Optional[bool] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("project", "feature_set", "source", "format", "options")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_set: str
    source: str
    format: DataFormat
    options: IngestOptions
    def __init__(self, project: _Optional[str] = ..., feature_set: _Optional[str] = ..., source: _Optional[str] = ..., format: _Optional[_Union[DataFormat, str]] = ..., options: _Optional[_Union[IngestOptions, _Mapping]] = ...) -> None: ...

class IngestUploadHeader(_message.Message):
    __slots__ = ("project", "feature_set", "format", "file_name", "options")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_set: str
    format: DataFormat
    file_name: str
    options: IngestOptions
    def __init__(self, project: _Optional[str] = ..., feature_set: _Optional[str] = ..., format: _Optional[_Union[DataFormat, str]] = ..., file_name: _Optional[str] = ..., options: _Optional[_Union[IngestOptions, _Mapping]] = ...) -> None: ...

class UploadEnd(_message.Message):
    __slots__ = ("total_bytes",)
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    total_bytes: int
    def __init__(self, total_bytes: _Optional[int] = ...) -> None: ...

class IngestUploadRequest(_message.Message):
    __slots__ = ("header", "chunk", "end")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    header: IngestUploadHeader
    chunk: bytes
    end: UploadEnd
    def __init__(self, header: _Optional[_Union[IngestUploadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ..., end: _Optional[_Union[UploadEnd, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("state", "type", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    type: str
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[_Union[JobState, str]] = ..., type: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class FeatureStatistics(_message.Message):
    __slots__ = ("count", "nulls", "min_json", "max_json", "mean", "stddev", "approx_distinct")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    NULLS_FIELD_NUMBER: _ClassVar[int]
    MIN_JSON_FIELD_NUMBER: _ClassVar[int]
    MAX_JSON_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STDDEV_FIELD_NUMBER: _ClassVar[int]
    APPROX_DISTINCT_FIELD_NUMBER: _ClassVar[int]
    count: int
    nulls: int
    min_json: str
    max_json: str
    mean: float
    stddev: float
    approx_distinct: int
    def __init__(self, count: _Optional[int] = ..., nulls: _Optional[int] = ..., min_json: _Optional[str] = ..., max_json: _Optional[str] = ..., mean: _Optional[float] = ..., stddev: _Optional[float] = ..., approx_distinct: _Optional[int] = ...) -> None: ...

class Ingestion(_message.Message):
    __slots__ = ("id", "sequence", "state", "source", "format", "row_count", "idempotency_key", "major", "job_id", "committed_by", "committed_at", "reverted_at", "statistics", "statistics_withheld")
    class StatisticsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: FeatureStatistics
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[FeatureStatistics, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    REVERTED_AT_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_WITHHELD_FIELD_NUMBER: _ClassVar[int]
    id: str
    sequence: int
    state: str
    source: str
    format: DataFormat
    row_count: int
    idempotency_key: str
    major: int
    job_id: str
    committed_by: str
    committed_at: _timestamp_pb2.Timestamp
    reverted_at: _timestamp_pb2.Timestamp
    statistics: _containers.MessageMap[str, FeatureStatistics]
    statistics_withheld: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., sequence: _Optional[int] = ..., state: _Optional[str] = ..., source: _Optional[str] = ..., format: _Optional[_Union[DataFormat, str]] = ..., row_count: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., major: _Optional[int] = ..., job_id: _Optional[str] = ..., committed_by: _Optional[str] = ..., committed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reverted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., statistics: _Optional[_Mapping[str, FeatureStatistics]] = ..., statistics_withheld: _Optional[_Iterable[str]] = ...) -> None: ...

class ListIngestionsRequest(_message.Message):
    __slots__ = ("project", "feature_set", "version")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_set: str
    version: str
    def __init__(self, project: _Optional[str] = ..., feature_set: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ListIngestionsResponse(_message.Message):
    __slots__ = ("ingestions",)
    INGESTIONS_FIELD_NUMBER: _ClassVar[int]
    ingestions: _containers.RepeatedCompositeFieldContainer[Ingestion]
    def __init__(self, ingestions: _Optional[_Iterable[_Union[Ingestion, _Mapping]]] = ...) -> None: ...

class GetIngestionRequest(_message.Message):
    __slots__ = ("project", "feature_set", "ingestion_id", "version")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_FIELD_NUMBER: _ClassVar[int]
    INGESTION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_set: str
    ingestion_id: str
    version: str
    def __init__(self, project: _Optional[str] = ..., feature_set: _Optional[str] = ..., ingestion_id: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class RevertIngestionRequest(_message.Message):
    __slots__ = ("project", "feature_set", "ingestion_id", "wait")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_FIELD_NUMBER: _ClassVar[int]
    INGESTION_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_set: str
    ingestion_id: str
    wait: bool
    def __init__(self, project: _Optional[str] = ..., feature_set: _Optional[str] = ..., ingestion_id: _Optional[str] = ..., wait: _Optional[bool] = ...) -> None: ...

class AsOf(_message.Message):
    __slots__ = ("ingestion_id", "time")
    INGESTION_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ingestion_id: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, ingestion_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RetrieveRequest(_message.Message):
    __slots__ = ("project", "feature_set", "version", "as_of", "to", "latest", "format", "wait")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_set: str
    version: str
    as_of: AsOf
    to: _timestamp_pb2.Timestamp
    latest: bool
    format: OutputFormat
    wait: bool
    def __init__(self, project: _Optional[str] = ..., feature_set: _Optional[str] = ..., version: _Optional[str] = ..., as_of: _Optional[_Union[AsOf, _Mapping]] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latest: _Optional[bool] = ..., format: _Optional[_Union[OutputFormat, str]] = ..., wait: _Optional[bool] = ..., **kwargs) -> None: ...

class HistoricalHeader(_message.Message):
    __slots__ = ("features", "entity_time", "entities", "entity_format", "entity_file_name", "as_of", "format", "wait")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    ENTITY_TIME_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FORMAT_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedScalarFieldContainer[str]
    entity_time: str
    entities: str
    entity_format: DataFormat
    entity_file_name: str
    as_of: AsOf
    format: OutputFormat
    wait: bool
    def __init__(self, features: _Optional[_Iterable[str]] = ..., entity_time: _Optional[str] = ..., entities: _Optional[str] = ..., entity_format: _Optional[_Union[DataFormat, str]] = ..., entity_file_name: _Optional[str] = ..., as_of: _Optional[_Union[AsOf, _Mapping]] = ..., format: _Optional[_Union[OutputFormat, str]] = ..., wait: _Optional[bool] = ...) -> None: ...

class HistoricalRequest(_message.Message):
    __slots__ = ("header", "chunk", "end")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    header: HistoricalHeader
    chunk: bytes
    end: UploadEnd
    def __init__(self, header: _Optional[_Union[HistoricalHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ..., end: _Optional[_Union[UploadEnd, _Mapping]] = ...) -> None: ...

class DownloadOutputRequest(_message.Message):
    __slots__ = ("job_id", "remove_after")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REMOVE_AFTER_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    remove_after: bool
    def __init__(self, job_id: _Optional[str] = ..., remove_after: _Optional[bool] = ...) -> None: ...

class DataChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...
