"""Scale on one machine: per-stage time and peak memory of data … evaluate at 30 k / 100 k / 300 k / 1 M rows.

The data is synthetic: Adult's training rows resampled with replacement, numbers jittered and a few
categories swapped between rows, written to a temporary folder (never committed). Each size runs the
default params (params/default.yaml, only `data.path` changed) in its own root. Peak memory is the
kernel's resident set, and the kernel's plus its worker processes' (n_jobs), sampled every 0.2 s
while each stage runs (psutil). Target: 1 M rows through data … evaluate in ≤ 15 min and ≤ 8 GB.
Usage: nice .venv/bin/python benchmarks/scale.py [30000,100000,...] [--root DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from mlworkflow.config import PROJECT_ROOT
from mlworkflow.params import load_params
from mlworkflow.workflow import runner

SIZES = (30_000, 100_000, 300_000, 1_000_000)
MODELING = ("data", "preprocess", "select", "train", "evaluate")
SOURCE = PROJECT_ROOT / "data" / "adult_train.csv.gz"
PARAMS = PROJECT_ROOT / "params" / "default.yaml"
SWAP_SHARE = 0.02  # share of each categorical column's values replaced by another row's
SAMPLE_S = 0.2
STARTS = re.compile(r"^\[\d+/\d+\] \S+ …")  # the runner's line as a stage starts (a reason may follow)


def synthetic(rows: int, seed: int) -> pd.DataFrame:
    """Adult resampled to `rows` rows with noise: numbers jittered, a few categories swapped."""
    rng = np.random.default_rng(seed)
    adult = pd.read_csv(SOURCE, skipinitialspace=True)
    frame = adult.iloc[rng.integers(0, len(adult), rows)].reset_index(drop=True)
    for column in frame.columns.drop("income"):
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values):
            spread = 0.05 * float(values.std() or 1.0)
            frame[column] = np.round(values + rng.normal(0.0, spread, rows)).clip(lower=values.min()).astype(values.dtype)
        else:
            swap = rng.random(rows) < SWAP_SHARE
            frame.loc[swap, column] = values.to_numpy()[rng.integers(0, rows, int(swap.sum()))]
    return frame


@dataclass
class MemoryWatch:
    """Samples the kernel's resident memory (alone, and with its children) per stage, in a thread."""

    stage: str = ""
    peaks: dict[str, tuple[float, float]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def kernels(self) -> list[psutil.Process]:
        """The kernels this process started (each with its worker processes)."""
        return psutil.Process(os.getpid()).children()

    def sample(self) -> None:
        """Record the current resident set sizes (GB) under the running stage."""
        kernel = total = 0.0
        for process in self.kernels():
            try:
                own = process.memory_info().rss
                kernel = max(kernel, own / 1e9)
                total += (own + sum(c.memory_info().rss for c in process.children(recursive=True))) / 1e9
            except psutil.Error:  # a worker that ended between listing and reading
                continue
        old = self.peaks.get(self.stage, (0.0, 0.0))
        self.peaks[self.stage] = (max(old[0], kernel), max(old[1], total))

    def loop(self) -> None:
        """Sample until stopped."""
        while not self.stop.wait(SAMPLE_S):
            if self.stage:
                self.sample()

    def echo(self, line: str) -> None:
        """Follow the runner's lines: '[i/n] stage …' starts a stage."""
        print(f"    {line}", flush=True)
        if STARTS.match(line):
            self.stage = line.split()[1]


def run_size(rows: int, folder: Path, stages: tuple[str, ...] = MODELING) -> list[dict[str, object]]:
    """Generate the data, run data … evaluate, and return one row per stage."""
    began = time.perf_counter()
    path = folder / f"adult_{rows}.csv"
    if not path.exists():  # a kept folder (--keep) reuses its data
        synthetic(rows, seed=rows).to_csv(path, index=False)
    print(f"  {rows:,} rows written in {time.perf_counter() - began:.1f} s ({path.stat().st_size / 1e6:.0f} MB)")
    params = load_params(PARAMS, [f"data.path={path}"])
    request = runner.RunRequest(params=params, params_source=str(PARAMS), root=folder / f"root_{rows}", stages=stages)
    watch = MemoryWatch()
    sampler = threading.Thread(target=watch.loop, daemon=True)
    sampler.start()
    try:
        result = runner.run(request, echo=watch.echo)
    finally:
        watch.stop.set()
        sampler.join()
    if result.error:
        raise SystemExit(f"{rows} rows: {result.error}")
    return [
        {"rows": rows, "stage": s.stage, "seconds": round(s.total_s, 1), "kernel GB": round(watch.peaks.get(s.stage, (0, 0))[0], 2),
         "with workers GB": round(watch.peaks.get(s.stage, (0, 0))[1], 2)}
        for s in result.stages
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sizes", nargs="?", default=",".join(map(str, SIZES)), help="comma-separated row counts")
    parser.add_argument("--root", type=Path, default=None, help="folder for the data and the runs (default: a temp folder)")
    parser.add_argument("--stages", default=",".join(MODELING), help="comma-separated stages (default: data … evaluate)")
    parser.add_argument("--keep", action="store_true", help="keep the folder (the data and the reports)")
    args = parser.parse_args()
    folder = args.root or Path(tempfile.mkdtemp(prefix="mlw-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; folder {folder}", flush=True)
    rows: list[dict[str, object]] = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            rows += run_size(size, folder, tuple(args.stages.split(",")))
            print(pd.DataFrame([r for r in rows if r["rows"] == size]).to_string(index=False), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    table = pd.DataFrame(rows)
    totals = table.groupby("rows").agg({"seconds": "sum", "kernel GB": "max", "with workers GB": "max"})
    print(table.to_string(index=False))
    print(totals.rename(columns={"seconds": "total s"}).to_string())
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
