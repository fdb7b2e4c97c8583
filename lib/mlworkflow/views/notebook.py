"""The set-up call every stage notebook makes: theme, display options, its params and its artifact store."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlworkflow import io
from mlworkflow.params import section_from_namespace


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


def start(stage: str, namespace: Mapping[str, Any]) -> tuple[Any, io.Artifacts]:
    """Set up a stage notebook; return its params (from the `parameters` cell) and its artifact store."""
    setup()
    return section_from_namespace(stage, namespace), io.Artifacts(Path(namespace["artifacts"]))
