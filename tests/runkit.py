"""End-to-end helpers: one CLI run of the workflow in a subprocess, params files copied beside the shared
data, and the run's artifacts read back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # as in conftest

TO_DEPLOY = "data,preprocess,select,train,evaluate,deploy"
Run = tuple[subprocess.CompletedProcess[str], Path]


def run_cli(params: Path, root: Path, stages: str = TO_DEPLOY, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    """`mlworkflow run PARAMS --root ROOT --stages STAGES` in a subprocess, output captured."""
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", "run", str(params), "--root", str(root), "--stages", stages]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout, check=False)


def shared_params(source: Path, root: Path, extra: str = "") -> Path:
    """A copy of a committed params file under ROOT/params with its ../shared/data paths made absolute (plus
    `extra` YAML appended); skips when the shared datasets are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the shared datasets in {SHARED_DATA} (present in CI, absent on a fresh clone)")
    params = root / "params" / source.name
    params.parent.mkdir(exist_ok=True)
    text = source.read_text(encoding="utf-8").replace("../../../shared/data/", f"{SHARED_DATA}/")
    params.write_text(text + extra, encoding="utf-8")
    return params


def artifact(root: Path, name: str) -> dict[str, Any]:
    """An artifact (JSON) of the one run under ROOT."""
    folder = next((root / "runs").iterdir()) / "artifacts"
    content: dict[str, Any] = json.loads((folder / name).read_text(encoding="utf-8"))
    return content
