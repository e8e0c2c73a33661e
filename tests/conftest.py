"""Shared fixtures: the CLI runner used by the offline command tests."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scheduler.cli.main import main
from scheduler.demo.lean_moto import default_images_only

# Every simulated AWS of the suite (the moto servers, in-process moto, the demo) skips moto's per-region image
# catalogue: each account × region's EC2 then costs about a second instead of ten.
default_images_only()

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Runs ``isched ARGS`` in-process (standard input from ``input``) and returns its exit code and output."""

    def _run(*args: str, input: str | None = None) -> Result:
        capsys.readouterr()
        monkeypatch.setattr("sys.stdin", io.StringIO(input or ""))
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], str]:
    def _write(text: str, name: str = "schedules.yaml") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return _write
