"""The README's walk-through runs as written against a real server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- walk-through: tests/test_readme.py runs these blocks in order -->"


def walk_through_blocks() -> list[str]:
    text = README.read_text()
    start = text.index(MARKER)
    end = text.index("## Reference", start)
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


def test_the_walk_through_runs_as_written(served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FEATURESTORE_ENDPOINT", served.address)
    monkeypatch.setenv("FEATURESTORE_TOKEN", served.admin_token)
    blocks = walk_through_blocks()
    assert len(blocks) == 6
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "{'customers__visits': [4, None], 'customers__spend': [12.0, None]}" in printed
    assert "PERMISSION_DENIED" in printed and "email" in printed
