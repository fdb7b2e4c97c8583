"""Project paths: derived from the project root, pointing at what the project ships; importing creates nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlworkflow import config


def test_paths_point_at_what_the_project_ships() -> None:
    assert (config.PROJECT_ROOT / "pyproject.toml").is_file()
    assert sorted(p.name for p in config.NOTEBOOKS.glob("0*_*.ipynb"))[0] == "01_data.ipynb"
    assert config.DEFAULT_PARAMS.is_file() and config.DEFAULT_PARAMS.parent == config.PARAMS
    assert (config.TEMPLATES / "mlw" / "conf.json").is_file()


def test_importing_the_package_writes_nothing(tmp_path: Path) -> None:
    code = "import mlworkflow.workflow.cli, mlworkflow.service.app, mlworkflow.views.notebook"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    assert list(tmp_path.iterdir()) == []
