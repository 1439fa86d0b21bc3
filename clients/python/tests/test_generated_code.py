"""The committed gRPC code is what tools/generate_proto.py makes from proto/ today."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[1]
COMMITTED = CLIENT / "src" / "featurestore" / "_proto"


def _generator():
    spec = importlib.util.spec_from_file_location("generate_proto", CLIENT / "tools" / "generate_proto.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_proto"] = module
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_regenerating_from_proto_gives_the_committed_files(tmp_path: Path) -> None:
    _generator().generate(tmp_path)
    fresh, committed = _files(tmp_path), _files(COMMITTED)
    assert sorted(fresh) == sorted(committed), "run: python clients/python/tools/generate_proto.py"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], f"{stale} differ from proto/: run python clients/python/tools/generate_proto.py"
