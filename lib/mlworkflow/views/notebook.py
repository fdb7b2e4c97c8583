"""The set-up call every stage notebook makes: theme, display options, its params and its artifact store."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlworkflow import io
from mlworkflow.errors import ParamsError
from mlworkflow.params import section_from_namespace
from mlworkflow.views import plots, tables


def setup() -> None:
    """Set the plotting theme, clean tables and readable figures (views/tables.py, plots.py) and warning filters for a
    stage notebook."""
    import matplotlib
    import matplotlib.pyplot  # activates the kernel's inline backend, so Figures display
    import pandas as pd
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    matplotlib.rcParams.update({"figure.dpi": 80, "figure.figsize": (7.0, 4.0), "svg.hashsalt": "mlw"})
    pd.set_option("display.precision", 4)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.width", 120)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*vert: bool.*")
    tables.register()
    plots.register()


def name_params_file(params_file: str) -> None:
    """Show a params error of any later cell as one in the params file (the template of `mlworkflow check`).

    Stage code raises ParamsError with the section's key path but cannot know the file the run was given;
    the kernel's exception display can.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or not params_file:
        return

    def show(shell: Any, _etype: type, error: ParamsError, tb: Any, tb_offset: int | None = None) -> None:
        moved = error.with_source(params_file)
        shell.showtraceback((ParamsError, moved, tb), tb_offset=tb_offset)

    shell.set_custom_exc((ParamsError,), show)


def start(stage: str, namespace: Mapping[str, Any]) -> tuple[Any, io.Artifacts]:
    """Set up a stage notebook; return its params (from the `parameters` cell) and its artifact store."""
    setup()
    name_params_file(str(namespace.get("params_file") or ""))
    return section_from_namespace(stage, namespace), io.Artifacts(Path(namespace["artifacts"]))
