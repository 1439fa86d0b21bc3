"""Jobs: every long operation (ingest, revert, retrieve, historical, materialize) runs as one."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from featurestore._proto.featurestore.v1 import data_pb2
from featurestore.errors import CancelledError, error_for_code

if TYPE_CHECKING:
    from featurestore.client import Client

_FINAL = {data_pb2.JOB_STATE_SUCCEEDED, data_pb2.JOB_STATE_FAILED, data_pb2.JOB_STATE_CANCELLED}
_STATE_NAMES = {
    data_pb2.JOB_STATE_UNSPECIFIED: "unspecified",
    data_pb2.JOB_STATE_PENDING: "pending",
    data_pb2.JOB_STATE_RUNNING: "running",
    data_pb2.JOB_STATE_SUCCEEDED: "succeeded",
    data_pb2.JOB_STATE_FAILED: "failed",
    data_pb2.JOB_STATE_CANCELLED: "cancelled",
}


class Job:
    """A server job as last seen: its id, type, state, progress and result."""

    def __init__(self, client: Client, message: data_pb2.Job):
        self._client = client
        self.message = message

    @property
    def id(self) -> str:
        """The job's id."""
        return self.message.id

    @property
    def type(self) -> str:
        """ingest, revert, retrieve, historical, materialize…"""
        return self.message.type

    @property
    def state(self) -> str:
        """pending, running, succeeded, failed or cancelled."""
        return _STATE_NAMES.get(self.message.state, str(self.message.state))

    @property
    def done(self) -> bool:
        """True once the job has ended, whatever its state."""
        return self.message.state in _FINAL

    @property
    def progress(self) -> float:
        """How far it is, from 0 to 1."""
        return self.message.progress

    @property
    def result(self) -> dict[str, Any]:
        """The result once succeeded (ingest: ingestionId, rowCount…)."""
        return json.loads(self.message.result_json) if self.message.result_json else {}

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, type={self.type!r}, state={self.state!r}, progress={self.progress:.2f})"

    def refresh(self) -> Job:
        """Reads the job's current state from the server."""
        self.message = self._client.get_job(self.id).message
        return self

    def cancel(self) -> Job:
        """Asks the server to cancel the job; returns it as the server then reports it."""
        self.message = self._client.cancel_job(self.id).message
        return self

    def wait(self, progress: bool = True) -> Job:
        """Waits until the job ends, showing a progress bar (tqdm, when installed, and
        ``progress`` is true). Returns the job if it succeeded; raises the error it failed
        with (a :class:`~featurestore.errors.FeaturestoreError`) otherwise."""
        if not self.done:
            bar = _progress_bar(self.type, progress)
            try:
                for message in self._client._watch_job(self.id):
                    self.message = message
                    if bar is not None:
                        bar.n = round(message.progress * 100, 1)
                        bar.set_postfix_str(message.message[:60], refresh=False)
                        bar.refresh()
                    if self.done:
                        break
            finally:
                if bar is not None:
                    bar.close()
            if not self.done:
                self.refresh()
        return self.raise_for_state()

    def raise_for_state(self) -> Job:
        """Returns the job if it succeeded or is still running; raises its error otherwise."""
        if self.message.state == data_pb2.JOB_STATE_FAILED:
            error = self.message.error
            raise error_for_code(error.code or "INTERNAL", f"{self.type} job {self.id} failed: {error.message}", {"jobId": self.id})
        if self.message.state == data_pb2.JOB_STATE_CANCELLED:
            raise CancelledError(f"{self.type} job {self.id} was cancelled", details={"jobId": self.id})
        return self


def _progress_bar(description: str, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=100, desc=description, unit="%", bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}{postfix}]")

