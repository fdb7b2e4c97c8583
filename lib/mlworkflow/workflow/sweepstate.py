"""A sweep's folder and its record: `sweeps/<sweep>/sweep.json` holds each variant's values, run, status and time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mlworkflow.errors import MlwError
from mlworkflow.layout import reports_dir

SWEEPS = "sweeps"
SWEEP_FILE = "sweep.json"
CLAIM_ATTEMPTS = 100  # sweeps started in the same second take -2, -3, …
Status = Literal["pending", "ok", "failed", "not run"]


@dataclass(frozen=True)
class SweepLayout:
    """Where a sweep keeps its record (`sweeps/<sweep>/sweep.json`) and its leaderboard page."""

    root: Path
    sweep_id: str

    @property
    def folder(self) -> Path:
        """The sweep's folder."""
        return self.root / SWEEPS / self.sweep_id

    @property
    def record_file(self) -> Path:
        """The variants, their runs, statuses and times."""
        return self.folder / SWEEP_FILE

    @property
    def page(self) -> Path:
        """The leaderboard: beside the runs' report folders, so its links are `<run>/index.html`."""
        return reports_dir(self.root) / f"leaderboard-{self.sweep_id}.html"



class VariantEntry(BaseModel):
    """One variant in sweep.json: its values, run and outcome."""

    model_config = ConfigDict(extra="forbid")

    label: str
    values: dict[str, Any]
    sets: list[str]
    run_id: str
    status: Status = "pending"
    seconds: float = 0.0
    error: str = ""


class SweepRecord(BaseModel):
    """sweep.json: how the sweep was asked for and each variant's run."""

    model_config = ConfigDict(extra="forbid")

    sweep_id: str
    params_source: str
    overrides: list[str]
    keys: list[str]
    stages: list[str]
    parallel: int
    cpus: int  # MLW_CPUS of each variant
    shared: list[str]
    created: str
    variants: list[VariantEntry]


def write_record(sweep: SweepLayout, record: SweepRecord) -> Path:
    """Write sweep.json atomically (a reader never sees half a file)."""
    sweep.folder.mkdir(parents=True, exist_ok=True)
    partial = sweep.record_file.with_suffix(".json.partial")
    partial.write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
    partial.replace(sweep.record_file)
    return sweep.record_file


def read_record(sweep: SweepLayout) -> SweepRecord:
    """Read sweep.json; a missing or malformed file is an error naming it."""
    if not sweep.record_file.is_file():
        raise MlwError(f"sweep '{sweep.sweep_id}' not found: no {sweep.record_file}")
    try:
        return SweepRecord.model_validate_json(sweep.record_file.read_bytes())
    except ValidationError as exc:
        raise MlwError(f"{sweep.record_file}: not a sweep record ({exc.error_count()} problem(s), first: {exc.errors()[0]['msg']})") from None


def find(root: Path, name: str) -> SweepLayout | None:
    """The sweep a `compare` argument names: a sweep id under root, or a sweep folder's path; else None."""
    under_root = SweepLayout(root, name)
    if "/" not in name and under_root.record_file.is_file():
        return under_root
    folder = Path(name).resolve()
    if (folder / SWEEP_FILE).is_file() and folder.parent.name == SWEEPS:
        return SweepLayout(folder.parent.parent, folder.name)
    return None


def claim(root: Path, name: str) -> SweepLayout:
    """A fresh sweep id `<name>-sweep-<UTC timestamp>[-n]`, its folder created (so no other sweep takes it)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    for n in range(1, CLAIM_ATTEMPTS + 1):
        sweep = SweepLayout(root, f"{name}-sweep-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            sweep.folder.mkdir(parents=True)
        except FileExistsError:
            continue
        return sweep
    raise MlwError(f"no free sweep id for '{name}' under {root / SWEEPS}")
