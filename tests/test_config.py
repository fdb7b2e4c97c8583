"""Project paths: derived from the project root, pointing at what the project ships; importing creates nothing."""

from __future__ import annotations

import os
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


def test_native_pools_are_capped_at_one_thread_unless_the_user_sized_any() -> None:
    assert config.thread_caps({}) == {name: "1" for name in config.THREAD_VARIABLES}
    assert config.thread_caps({"OMP_NUM_THREADS": ""}) == {name: "1" for name in config.THREAD_VARIABLES}
    assert config.thread_caps({"OMP_NUM_THREADS": "4"}) == {}  # OpenBLAS falls back to it: leave every pool alone
    assert config.thread_caps({"MKL_NUM_THREADS": "2", "PATH": "/bin"}) == {}


def test_loaded_pools_are_capped_in_this_process_unless_the_user_sized_them() -> None:
    code = (
        "import numpy, sklearn.ensemble, threadpoolctl; from mlworkflow import config\n"
        "config.cap_loaded_pools({'OMP_NUM_THREADS': '3'}); before = threadpoolctl.threadpool_info()\n"
        "config.cap_loaded_pools({}); after = threadpoolctl.threadpool_info()\n"
        "print(sorted({p['num_threads'] for p in after}), len(before) == len(after) > 0)"
    )
    env = {k: v for k, v in os.environ.items() if k not in config.THREAD_VARIABLES}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[1] True"


def test_a_user_s_setting_leaves_the_pools_as_the_user_sized_them() -> None:
    code = (
        "import numpy, threadpoolctl; from mlworkflow import config\n"
        "config.cap_loaded_pools({'OPENBLAS_NUM_THREADS': '2'})\n"
        "print(sorted({p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas'}))"
    )
    env = {**{k: v for k, v in os.environ.items() if k not in config.THREAD_VARIABLES}, "OPENBLAS_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[2]"


def test_a_command_skips_the_iri_grammars_and_notebooks_still_validate(root: Path) -> None:
    probe = (
        "import sys\n"
        "from mlworkflow.workflow import cli\n"
        f"assert cli.main(['check', {str(root / 'params' / 'smoke.yaml')!r}]) == 0\n"
        "from mlworkflow.workflow import runner\n"
        "import nbformat\n"
        "nbformat.validate(nbformat.read(sys.argv[1], 4))\n"
        "print(repr(sys.modules['rfc3987_syntax']))\n"
    )
    notebook = str(root / "notebooks" / "01_data.ipynb")
    done = subprocess.run([sys.executable, "-c", probe, notebook], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-1] == "None"  # marked absent before nbformat loaded: jsonschema compiled nothing
