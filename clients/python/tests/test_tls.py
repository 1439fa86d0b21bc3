"""TLS: the client trusts a CA certificate given by path, and a plain-text client is refused."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import start_serve
from featurestore import Client, UnavailableError


def test_a_tls_server_is_reached_with_its_ca_certificate_and_not_in_plain_text() -> None:
    folder = Path(tempfile.mkdtemp(prefix="featurestore-pytest-"))
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    server = start_serve(folder / "store", serve_args=("--tls-cert", str(cert), "--tls-key", str(key)))
    try:
        with Client(server.address, token=server.admin_token, tls=cert, timeout=20) as secure:
            secure.create_project("over_tls")
        with Client(f"grpcs://{server.address}", token=server.admin_token, tls=cert.read_bytes(), timeout=20) as by_scheme:
            assert [p.name for p in by_scheme.list_projects()] == ["over_tls"]
        with Client(server.address, token=server.admin_token, tls=False, timeout=5) as plain:
            with pytest.raises(UnavailableError):
                plain.list_projects()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
