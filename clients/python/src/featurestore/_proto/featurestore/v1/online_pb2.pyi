import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NullValue(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NULL_VALUE: _ClassVar[NullValue]
NULL_VALUE: NullValue

class Value(_message.Message):
    __slots__ = ("null_value", "bool_value", "int64_value", "double_value", "string_value", "bytes_value", "date_value", "timestamp_value", "list_value")
    NULL_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT64_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUE_FIELD_NUMBER: _ClassVar[int]
    DATE_VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_VALUE_FIELD_NUMBER: _ClassVar[int]
    LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    null_value: NullValue
    bool_value: bool
    int64_value: int
    double_value: float
    string_value: str
    bytes_value: bytes
    date_value: str
    timestamp_value: _timestamp_pb2.Timestamp
    list_value: ValueList
    def __init__(self, null_value: _Optional[_Union[NullValue, str]] = ..., bool_value: _Optional[bool] = ..., int64_value: _Optional[int] = ..., double_value: _Optional[float] = ..., string_value: _Optional[str] = ..., bytes_value: _Optional[bytes] = ..., date_value: _Optional[str] = ..., timestamp_value: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., list_value: _Optional[_Union[ValueList, _Mapping]] = ...) -> None: ...

class ValueList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[Value]
    def __init__(self, values: _Optional[_Iterable[_Union[Value, _Mapping]]] = ...) -> None: ...

class Row(_message.Message):
    __slots__ = ("values",)
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.MessageMap[str, Value]
    def __init__(self, values: _Optional[_Mapping[str, Value]] = ...) -> None: ...

class GetOnlineFeaturesRequest(_message.Message):
    __slots__ = ("features", "entities")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedScalarFieldContainer[str]
    entities: _containers.RepeatedCompositeFieldContainer[Row]
    def __init__(self, features: _Optional[_Iterable[str]] = ..., entities: _Optional[_Iterable[_Union[Row, _Mapping]]] = ...) -> None: ...

class FeatureColumn(_message.Message):
    __slots__ = ("name", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class FeatureVector(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[Value]
    def __init__(self, values: _Optional[_Iterable[_Union[Value, _Mapping]]] = ...) -> None: ...

class GetOnlineFeaturesResponse(_message.Message):
    __slots__ = ("columns", "rows", "expired")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[FeatureColumn]
    rows: _containers.RepeatedCompositeFieldContainer[FeatureVector]
    expired: _containers.RepeatedCompositeFieldContainer[ExpiredValues]
    def __init__(self, columns: _Optional[_Iterable[_Union[FeatureColumn, _Mapping]]] = ..., rows: _Optional[_Iterable[_Union[FeatureVector, _Mapping]]] = ..., expired: _Optional[_Iterable[_Union[ExpiredValues, _Mapping]]] = ...) -> None: ...

class ExpiredValues(_message.Message):
    __slots__ = ("row", "columns")
    ROW_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    row: int
    columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, row: _Optional[int] = ..., columns: _Optional[_Iterable[str]] = ...) -> None: ...

class PushRequest(_message.Message):
    __slots__ = ("project", "feature_set", "rows", "timeout_ms", "wait_applied", "wait_synced")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    WAIT_APPLIED_FIELD_NUMBER: _ClassVar[int]
    WAIT_SYNCED_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_set: str
    rows: _containers.RepeatedCompositeFieldContainer[Row]
    timeout_ms: int
    wait_applied: bool
    wait_synced: bool
    def __init__(self, project: _Optional[str] = ..., feature_set: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[Row, _Mapping]]] = ..., timeout_ms: _Optional[int] = ..., wait_applied: _Optional[bool] = ..., wait_synced: _Optional[bool] = ...) -> None: ...

class MessagePosition(_message.Message):
    __slots__ = ("partition", "offset")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    partition: int
    offset: str
    def __init__(self, partition: _Optional[int] = ..., offset: _Optional[str] = ...) -> None: ...

class PushResponse(_message.Message):
    __slots__ = ("push_id", "rows", "feature_set", "positions")
    PUSH_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    push_id: str
    rows: int
    feature_set: str
    positions: _containers.RepeatedCompositeFieldContainer[MessagePosition]
    def __init__(self, push_id: _Optional[str] = ..., rows: _Optional[int] = ..., feature_set: _Optional[str] = ..., positions: _Optional[_Iterable[_Union[MessagePosition, _Mapping]]] = ...) -> None: ...

class MaterializeRequest(_message.Message):
    __slots__ = ("project", "feature_set", "version", "rebuild")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REBUILD_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_set: str
    version: str
    rebuild: bool
    def __init__(self, project: _Optional[str] = ..., feature_set: _Optional[str] = ..., version: _Optional[str] = ..., rebuild: _Optional[bool] = ...) -> None: ...

class MaterializeResponse(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...
