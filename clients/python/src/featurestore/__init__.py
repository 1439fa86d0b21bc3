"""Featurestore's Python client: training sets and online features from Python, over gRPC.

    from featurestore import Client
    fs = Client("127.0.0.1:50051", token="fst_…")
    training = fs.get_historical_features(entities, features=["shop/customers:visits"]).to_pandas()
"""

from featurestore.client import Client
from featurestore.errors import (
    AlreadyExistsError,
    CancelledError,
    ConflictError,
    DeadlineExceededError,
    FeaturestoreError,
    InternalError,
    NotFoundError,
    NotSupportedError,
    PermissionDeniedError,
    UnauthenticatedError,
    UnavailableError,
    ValidationError,
)
from featurestore.jobs import Job
from featurestore.results import OnlineFeatures, OutputData
from featurestore.schema import schema_from
from featurestore.types import arrow_type, feature_type_of

__all__ = [
    "AlreadyExistsError",
    "CancelledError",
    "Client",
    "ConflictError",
    "DeadlineExceededError",
    "FeaturestoreError",
    "InternalError",
    "Job",
    "NotFoundError",
    "NotSupportedError",
    "OnlineFeatures",
    "OutputData",
    "PermissionDeniedError",
    "UnauthenticatedError",
    "UnavailableError",
    "ValidationError",
    "arrow_type",
    "feature_type_of",
    "schema_from",
]
