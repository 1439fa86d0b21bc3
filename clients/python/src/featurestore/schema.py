"""Feature set schemas from a dict, a schema file, or data (a DataFrame's dtypes, an Arrow schema)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from featurestore._proto.featurestore.v1 import core_pb2
from featurestore.errors import ValidationError
from featurestore.types import feature_type_of


class SchemaDefinition:
    """A schema with the feature-set fields a schema file may carry beside it."""

    def __init__(self, schema: core_pb2.FeatureSetSchema, description: str = "", tags: Mapping[str, str] | None = None, time_to_live: str = ""):
        self.schema = schema
        self.description = description
        self.tags = dict(tags or {})
        self.time_to_live = time_to_live


def schema_from(
    source: Any,
    *,
    primary_key: str | Iterable[str] | None = None,
    event_time: str | None = None,
    sensitive: Iterable[str] = (),
    descriptions: Mapping[str, str] | None = None,
) -> SchemaDefinition:
    """The schema ``source`` describes.

    ``source`` is a dict shaped like a schema file (``primaryKey``/``primary_key``,
    ``eventTime``/``event_time``, ``features`` of ``{name, type, description, tags,
    sensitive}``; also ``description``, ``tags``, ``timeToLive``), the path of such a JSON
    file, a pandas DataFrame (its dtypes), a pyarrow Table or a pyarrow Schema. For data,
    ``primary_key`` and ``event_time`` say which columns they are; ``sensitive`` names features
    only sensitive consumers may read and ``descriptions`` describes features.
    """
    if isinstance(source, core_pb2.FeatureSetSchema):
        return SchemaDefinition(source)
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise ValidationError(f"schema file {str(path)!r} does not exist", details={"file": str(path)}) from None
        except json.JSONDecodeError as error:
            raise ValidationError(f"schema file {str(path)!r} is not valid JSON: {error}", details={"file": str(path)}) from None
        return _from_mapping(document, str(path))
    if isinstance(source, Mapping):
        return _from_mapping(source, "the schema")
    arrow = _arrow_schema(source)
    if primary_key is None or event_time is None:
        raise ValidationError("a schema from data needs primary_key=… and event_time=… naming its key and event-time columns")
    keys = [primary_key] if isinstance(primary_key, str) else list(primary_key)
    sensitive_names = set(sensitive)
    schema = core_pb2.FeatureSetSchema(primary_key=keys, event_time=event_time)
    for field in arrow:
        schema.features.add(
            name=field.name,
            type=feature_type_of(field.type, field.name),
            sensitive=field.name in sensitive_names,
            description=(descriptions or {}).get(field.name, ""),
        )
    missing = [name for name in [*keys, event_time, *sensitive_names] if name not in arrow.names]
    if missing:
        raise ValidationError(f"column(s) {', '.join(map(repr, missing))} are not in the data (its columns: {', '.join(arrow.names)})", details={"field": missing[0]})
    return SchemaDefinition(schema)


def _arrow_schema(source: Any) -> pa.Schema:
    if isinstance(source, pa.Schema):
        return source
    if isinstance(source, (pa.Table, pa.RecordBatch)):
        return source.schema
    if type(source).__name__ == "DataFrame" and hasattr(source, "dtypes"):
        # The first rows tell object columns apart (strings, bytes, lists, dates).
        return pa.Schema.from_pandas(source.head(1000), preserve_index=False).remove_metadata()
    raise ValidationError(
        f"cannot make a schema from a {type(source).__name__}: give a dict, a schema file's path, a pandas DataFrame, a pyarrow Table or Schema"
    )


def _from_mapping(document: Mapping[str, Any], where: str) -> SchemaDefinition:
    def field(*names: str, default: Any = None) -> Any:
        for name in names:
            if name in document:
                return document[name]
        return default

    features = field("features")
    if not isinstance(features, list):
        raise ValidationError(f"{where} has no features list: give features=[{{'name': …, 'type': …}}, …]", details={"field": "features"})
    keys = field("primaryKey", "primary_key", default=[])
    schema = core_pb2.FeatureSetSchema(
        primary_key=[keys] if isinstance(keys, str) else list(keys),
        event_time=field("eventTime", "event_time", default=""),
    )
    for index, feature in enumerate(features):
        if not isinstance(feature, Mapping) or "name" not in feature or "type" not in feature:
            raise ValidationError(f"features[{index}] of {where} needs a name and a type", details={"field": f"features[{index}]"})
        schema.features.add(
            name=feature["name"],
            type=feature["type"],
            description=feature.get("description", ""),
            tags=dict(feature.get("tags", {})),
            sensitive=bool(feature.get("sensitive", False)),
        )
    return SchemaDefinition(schema, field("description", default=""), field("tags", default={}), field("timeToLive", "time_to_live", default=""))
