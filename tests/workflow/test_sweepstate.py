"""A sweep's record: written atomically, read back or refused with its path, found by id or folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlworkflow.errors import MlwError
from mlworkflow.workflow import sweepstate
from mlworkflow.workflow.sweepstate import SweepLayout, SweepRecord, VariantEntry


def record(sweep_id: str) -> SweepRecord:
    entry = VariantEntry(label="train.search=grid", values={"train.search": "grid"}, sets=["train.search=grid"],
                         run_id=f"{sweep_id}-1")
    return SweepRecord(sweep_id=sweep_id, params_source="p.yaml", overrides=["a.b=1"], keys=["train.search"],
                       stages=["data", "train"], parallel=1, cpus=2, shared=["data"], created="now", variants=[entry])


def test_a_record_round_trips(tmp_path: Path) -> None:
    sweep = SweepLayout(tmp_path, "s")
    path = sweepstate.write_record(sweep, record("s"))
    assert path == tmp_path / "sweeps" / "s" / "sweep.json" and not list(sweep.folder.glob("*.partial"))
    assert sweepstate.read_record(sweep) == record("s")
    assert sweepstate.read_record(sweep).variants[0].status == "pending"


def test_a_missing_or_malformed_record_names_its_file(tmp_path: Path) -> None:
    sweep = SweepLayout(tmp_path, "s")
    with pytest.raises(MlwError, match=r"sweep .s. not found: no .*sweeps/s/sweep\.json"):
        sweepstate.read_record(sweep)
    sweep.folder.mkdir(parents=True)
    sweep.record_file.write_text('{"sweep_id": "s"}', encoding="utf-8")
    with pytest.raises(MlwError, match=r"sweep\.json: not a sweep record"):
        sweepstate.read_record(sweep)


def test_a_sweep_is_found_by_id_or_folder(tmp_path: Path) -> None:
    sweepstate.write_record(SweepLayout(tmp_path, "s"), record("s"))
    assert sweepstate.find(tmp_path, "s") == SweepLayout(tmp_path, "s")
    assert sweepstate.find(Path("/nowhere"), str(tmp_path / "sweeps" / "s")) == SweepLayout(tmp_path.resolve(), "s")
    assert sweepstate.find(tmp_path, "run-1") is None
    assert sweepstate.find(tmp_path, str(tmp_path)) is None


def test_sweeps_claimed_in_the_same_second_get_distinct_ids(tmp_path: Path) -> None:
    first, second = sweepstate.claim(tmp_path, "smoke"), sweepstate.claim(tmp_path, "smoke")
    assert first.folder.is_dir() and second.folder.is_dir() and first.sweep_id != second.sweep_id
    assert first.sweep_id.startswith("smoke-sweep-")
