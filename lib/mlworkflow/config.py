"""Project paths, all derived from the project root; nothing happens at import."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = PROJECT_ROOT / "notebooks"
PARAMS = PROJECT_ROOT / "params"
DEFAULT_PARAMS = PARAMS / "default.yaml"
TEMPLATES = Path(__file__).resolve().parent / "templates"
