"""Re-execute the committed stage notebooks in place with clean metadata (`make notebooks`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

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
        sys.exit("usage: python -m mlworkflow.workflow.refresh refresh NOTEBOOK_FOLDER")
    for refreshed in refresh(Path(sys.argv[2])):
        print(f"refreshed {refreshed}")
