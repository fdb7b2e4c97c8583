"""Notebook helpers: the set-up call every stage notebook makes, and in-place refresh for commits."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any


def setup() -> None:
    """Set the plotting theme, table display and warning filters for a stage notebook."""
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


VOLATILE_NOTEBOOK_KEYS = ("widgets", "papermill", "toc", "vscode")
VOLATILE_CELL_KEYS = ("execution", "papermill", "collapsed", "scrolled", "jupyter")


def clean(nb: Any) -> Any:
    """Strip volatile metadata so committed notebooks diff cleanly (tags are kept)."""
    for key in VOLATILE_NOTEBOOK_KEYS:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for key in VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        cell.pop("id", None)
    nb.nbformat_minor = 4
    return nb


def refresh(folder: Path) -> list[Path]:
    """Re-execute every stage notebook in place, in order, with its default parameters."""
    import nbformat
    from nbclient import NotebookClient

    done = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
        nbformat.write(clean(nb), path)
        done.append(path)
    return done


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "refresh":
        sys.exit("usage: python -m mlworkflow.notebook refresh NOTEBOOK_FOLDER")
    for refreshed in refresh(Path(sys.argv[2])):
        print(f"refreshed {refreshed}")
