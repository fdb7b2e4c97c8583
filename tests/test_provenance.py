"""Tests of provenance: package versions and the git commit."""

from __future__ import annotations

from pathlib import Path

from mlworkflow import provenance
from mlworkflow.config import PROJECT_ROOT


def test_versions_and_commit() -> None:
    versions = provenance.package_versions(["pandas", "scikit-learn", "papermill"])
    assert {"python", "pandas", "scikit-learn", "papermill"} <= set(versions)
    assert provenance.git_commit(Path("/")) == "unknown"


def test_missing_packages_are_left_out_and_a_checkout_has_a_commit() -> None:
    assert set(provenance.package_versions(["no-such-package-mlw"])) == {"python"}
    assert provenance.git_commit(PROJECT_ROOT).split("-")[0].isalnum()
