"""Shared fixtures: the repo root, ../shared/data (skipped where absent), smoke params."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: a user's fresh clone does not have it."""
    if not (SHARED_DATA / "DATASETS.md").is_file():
        pytest.skip(f"needs the shared datasets in {SHARED_DATA} (present in CI, absent on a fresh clone)")
    return SHARED_DATA
