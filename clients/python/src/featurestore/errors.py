"""Exceptions named after the engine's error codes.

The server answers a failed call with a gRPC status whose code maps the engine's code
(VALIDATION → INVALID_ARGUMENT, CONFLICT → ABORTED…) and carries the engine's code itself in
a ``featurestore-error-code`` trailer and, with its details, as a ``google.rpc.ErrorInfo`` in
``grpc-status-details-bin``. :func:`error_from_rpc` turns that back into one of the classes
below, so ``except NotFoundError`` works whatever the transport said.
"""

from __future__ import annotations

from typing import Any

import grpc

_ERROR_CODE_TRAILER = "featurestore-error-code"
_STATUS_DETAILS_TRAILER = "grpc-status-details-bin"
_ERROR_INFO_TYPE_URL = "type.googleapis.com/google.rpc.ErrorInfo"


class FeaturestoreError(Exception):
    """Base class of every error the client raises for a failed call.

    Attributes:
        code: the engine's error code (``VALIDATION``, ``NOT_FOUND``…).
        message: the server's message, which names what was wrong and what to do.
        details: the error's details (field, value…), values as strings.
        grpc_code: the gRPC status code the call ended with, when it came from a call.
    """

    code = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, str] | None = None,
        grpc_code: grpc.StatusCode | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = dict(details or {})
        self.grpc_code = grpc_code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ValidationError(FeaturestoreError):
    """The request or its data is invalid (gRPC INVALID_ARGUMENT)."""

    code = "VALIDATION"


class NotFoundError(FeaturestoreError):
    """What the call names does not exist, or the caller may not know it exists."""

    code = "NOT_FOUND"


class AlreadyExistsError(FeaturestoreError):
    """What the call creates exists already."""

    code = "ALREADY_EXISTS"


class ConflictError(FeaturestoreError):
    """A stale revision, or a state that forbids the change: re-read and retry (gRPC ABORTED)."""

    code = "CONFLICT"


class UnauthenticatedError(FeaturestoreError):
    """No token, or a token the server does not accept."""

    code = "UNAUTHENTICATED"


class PermissionDeniedError(FeaturestoreError):
    """The caller's role does not allow the call (or the sensitive features it reads)."""

    code = "PERMISSION_DENIED"


class UnavailableError(FeaturestoreError):
    """The server or one of its backends cannot be reached; the call may be retried."""

    code = "UNAVAILABLE"


class DeadlineExceededError(UnavailableError):
    """The call did not end within its deadline (the client's ``timeout``)."""

    code = "DEADLINE_EXCEEDED"


class NotSupportedError(FeaturestoreError):
    """The server's configuration does not support the call (gRPC UNIMPLEMENTED)."""

    code = "NOT_SUPPORTED"


class CancelledError(FeaturestoreError):
    """The call or its job was cancelled."""

    code = "CANCELLED"


class InternalError(FeaturestoreError):
    """A fault on the server that is not the caller's to fix."""

    code = "INTERNAL"


_BY_ENGINE_CODE: dict[str, type[FeaturestoreError]] = {
    cls.code: cls
    for cls in (
        ValidationError,
        NotFoundError,
        AlreadyExistsError,
        ConflictError,
        UnauthenticatedError,
        PermissionDeniedError,
        UnavailableError,
        NotSupportedError,
        CancelledError,
        InternalError,
    )
}
# Statuses grpc itself produces (no engine code travels with them).
_BY_GRPC_CODE: dict[grpc.StatusCode, type[FeaturestoreError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: ValidationError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.ABORTED: ConflictError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNIMPLEMENTED: NotSupportedError,
    grpc.StatusCode.CANCELLED: CancelledError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ValidationError,
}


def error_for_code(code: str, message: str, details: dict[str, str] | None = None) -> FeaturestoreError:
    """The exception of an engine error code (a job's error, for instance)."""
    cls = _BY_ENGINE_CODE.get(code, FeaturestoreError)
    return cls(message, code=code, details=details)


def error_from_rpc(error: grpc.RpcError, endpoint: str | None = None) -> FeaturestoreError:
    """The exception a failed gRPC call stands for, with the server's message and code.

    A status the transport made up (the server unreachable, gone mid-call, or past the
    deadline) says which server did not answer."""
    grpc_code: grpc.StatusCode | None = error.code() if hasattr(error, "code") else None
    message = (error.details() if hasattr(error, "details") else None) or str(error)
    trailers = _trailers(error)
    engine_code = trailers.get(_ERROR_CODE_TRAILER)
    details: dict[str, str] = {}
    raw_status = trailers.get(_STATUS_DETAILS_TRAILER)
    if isinstance(raw_status, bytes):
        try:
            info = _error_info(raw_status)
        except (IndexError, ValueError, UnicodeDecodeError):
            info = None  # not what the server sends: keep the plain status
        if info is not None:
            engine_code = engine_code or info[0]
            details = info[1]
    if isinstance(engine_code, str) and engine_code in _BY_ENGINE_CODE:
        return _BY_ENGINE_CODE[engine_code](message, details=details, grpc_code=grpc_code)
    cls = _BY_GRPC_CODE.get(grpc_code, InternalError) if grpc_code is not None else InternalError
    if endpoint and grpc_code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        message = f"the server at {endpoint} did not answer ({message}): check that it is running and reachable, then retry"
    return cls(message, details=details, grpc_code=grpc_code)


def _trailers(error: grpc.RpcError) -> dict[str, Any]:
    metadata = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    return {key: value for key, value in (metadata or ())}


# google.rpc.Status and ErrorInfo are read with a few lines of wire-format decoding rather than
# generated classes: registering google/rpc/*.proto would clash with googleapis-common-protos
# when a notebook has both installed.
def _fields(data: bytes) -> list[tuple[int, bytes | int]]:
    fields: list[tuple[int, bytes | int]] = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(data, position)
            fields.append((number, value))
        elif wire_type == 2:
            length, position = _varint(data, position)
            fields.append((number, data[position : position + length]))
            position += length
        elif wire_type == 1:
            position += 8
        elif wire_type == 5:
            position += 4
        else:
            raise ValueError(f"unexpected wire type {wire_type}")
    return fields


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _error_info(status: bytes) -> tuple[str, dict[str, str]] | None:
    """The (reason, metadata) of the Featurestore ErrorInfo in a serialized google.rpc.Status."""
    for number, any_bytes in _fields(status):
        if number != 3 or not isinstance(any_bytes, bytes):
            continue
        any_fields = dict(_fields(any_bytes))
        if any_fields.get(1) != _ERROR_INFO_TYPE_URL.encode():
            continue
        reason, domain, metadata = "", "", {}
        for info_number, value in _fields(bytes(any_fields.get(2, b""))):
            if not isinstance(value, bytes):
                continue
            if info_number == 1:
                reason = value.decode()
            elif info_number == 2:
                domain = value.decode()
            elif info_number == 3:
                entry = dict(_fields(value))
                metadata[bytes(entry.get(1, b"")).decode()] = bytes(entry.get(2, b"")).decode()
        if domain == "featurestore":
            return reason, metadata
    return None
