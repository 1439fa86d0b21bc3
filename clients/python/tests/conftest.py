"""Fixtures: a real `featurestore serve` (from the repository's sources) to test against.

`served` starts one per backend, once per test session: the embedded default (a store folder),
and PostgreSQL + Redis + Kafka + S3 from scripts/services (.services/env holds their URLs; a
service that does not answer fails the tests, as in CI). Each server learns its admin token
from FEATURESTORE_ADMIN_TOKEN and says where it listens on stdout.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from featurestore import Client

REPOSITORY = Path(__file__).resolve().parents[3]
MAIN = REPOSITORY / "packages" / "server" / "src" / "cli" / "main.ts"
LISTENING = re.compile(r"serving [A-Za-z ]+ on (\S+) ")
START_TIMEOUT = 120.0


@dataclass
class Served:
    """A `featurestore serve` child process."""

    process: subprocess.Popen[str]
    address: str
    admin_token: str
    backend: str
    output: list[str] = field(default_factory=list)
    # The S3 prefix callers may ingest from (sources.roots), on the services backend.
    landing: str | None = None

    def client(self, token: str | None = None, **options: Any) -> Client:
        """A client of this server, as the admin unless ``token`` is given."""
        return Client(self.address, token=self.admin_token if token is None else token, progress=False, **options)

    def stop(self) -> None:
        """SIGKILL: the server is gone at once, as in a crash."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)


def service_env() -> dict[str, str]:
    """The test services' settings: the environment, else .services/env."""
    values: dict[str, str] = {}
    env_file = Path(os.environ.get("FEATURESTORE_SERVICES_DIR", REPOSITORY / ".services")) / "env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key] = value
    values.update({key: value for key, value in os.environ.items() if key.startswith("FEATURESTORE_TEST_")})
    return values


def start_serve(
    store: Path,
    config: dict[str, Any] | None = None,
    admin_token: str | None = None,
    backend: str = "embedded",
    serve_args: tuple[str, ...] = (),
) -> Served:
    """Starts `featurestore serve` on free loopback ports and waits until it listens."""
    admin_token = admin_token or f"fst_{secrets.token_urlsafe(32)}"
    args = ["--store", str(store)]
    if config is not None:
        config_file = store / "config.json"
        config_file.write_text(json.dumps({"store": str(store), **config}))
        args = ["--config", str(config_file)]
    process = subprocess.Popen(
        [
            "node",
            "--conditions=@featurestore/source",
            "--import",
            "tsx",
            str(MAIN),
            *args,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            *serve_args,
        ],
        cwd=REPOSITORY,
        env={**os.environ, "FEATURESTORE_ADMIN_TOKEN": admin_token},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    found = threading.Event()
    address: list[str] = []

    def drain() -> None:
        # Read to the end so that a chatty server never blocks on a full pipe.
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = LISTENING.search(line)
            if match and not found.is_set():
                address.append(match.group(1))
                found.set()
        found.set()

    threading.Thread(target=drain, daemon=True).start()
    if not found.wait(START_TIMEOUT) or not address:
        process.kill()
        raise RuntimeError(f"featurestore serve ({backend}) did not start:\n{''.join(output)[-4000:]}")
    return Served(process, address[0], admin_token, backend, output)


def create_bucket(endpoint: str, bucket: str) -> None:
    """Creates a bucket on the test S3 server (moto takes unsigned path-style requests)."""
    request = urllib.request.Request(f"{endpoint.rstrip('/')}/{bucket}", method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, response.read()


def services_config() -> dict[str, Any]:
    """A configuration on PostgreSQL, Redis, Kafka and S3 from scripts/services, in its own
    metadata schema, queue namespace and bucket (named by FEATURESTORE_PYTEST_NAMESPACE when
    the wrapper test gives one, so it can drop them afterwards)."""
    env = service_env()
    missing = [name for name in ("POSTGRES_URL", "REDIS_URL", "KAFKA_BROKERS", "S3_ENDPOINT") if f"FEATURESTORE_TEST_{name}" not in env]
    if missing:
        pytest.fail(f"test services not configured ({', '.join(missing)}): run scripts/services up")
    namespace = os.environ.get("FEATURESTORE_PYTEST_NAMESPACE") or f"pyclient_{uuid.uuid4().hex[:8]}"
    bucket = namespace.replace("_", "-")
    create_bucket(env["FEATURESTORE_TEST_S3_ENDPOINT"], bucket)
    return {
        "metadata": env["FEATURESTORE_TEST_POSTGRES_URL"],
        "metadataSchema": namespace,
        "online": env["FEATURESTORE_TEST_REDIS_URL"],
        "queue": f"kafka://{env['FEATURESTORE_TEST_KAFKA_BROKERS']}",
        "queueNamespace": namespace,
        "storage": f"s3://{bucket}/store",
        "sources": {"roots": [f"s3://{bucket}/landing/"]},
        "s3": {
            "endpoint": env["FEATURESTORE_TEST_S3_ENDPOINT"],
            "region": env.get("FEATURESTORE_TEST_S3_REGION", "us-east-1"),
            "forcePathStyle": True,
            "accessKeyId": env.get("FEATURESTORE_TEST_S3_ACCESS_KEY_ID", "test"),
            "secretAccessKey": env.get("FEATURESTORE_TEST_S3_SECRET_ACCESS_KEY", "test"),
        },
        # A busy machine's slow answers must not count as an outage.
        "onlineMetadataTimeoutMs": 10_000,
    }


@pytest.fixture(scope="session", params=["embedded", "services"])
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """A running server on each backend in turn."""
    folder = Path(tempfile.mkdtemp(prefix="featurestore-pytest-"))
    config = services_config() if request.param == "services" else None
    server = start_serve(folder, config, backend=request.param)
    if config is not None:
        server.landing = config["sources"]["roots"][0]
    try:
        yield server
    finally:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def admin(served: Served) -> Iterator[Client]:
    """A client of the served server, as its admin."""
    with served.client() as client:
        yield client


@pytest.fixture
def project(admin: Client) -> str:
    """A fresh project's name."""
    name = f"p_{uuid.uuid4().hex[:10]}"
    admin.create_project(name, description="pytest")
    return name


def until(condition: Any, what: str, timeout: float = 60.0) -> Any:
    """Polls ``condition`` until it returns a truthy value (a condition, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
