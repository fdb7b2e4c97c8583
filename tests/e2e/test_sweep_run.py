"""A two-variant sweep through the command line: both runs finish in parallel, the shared stages come from the
cache, the leaderboard lists both with links that resolve (in a browser too), and `compare` takes the sweep."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlworkflow.config import PROJECT_ROOT
from mlworkflow.core import parallel
from mlworkflow.workflow import runstate

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.conftest import PageWatch

pytestmark = pytest.mark.e2e

SMOKE_SIZED = f"""
run: {{name: tiny, seed: 7}}
data: {{path: {PROJECT_ROOT / "data" / "adult_train.csv.gz"}, target: income, sample_rows: 400}}
select: {{candidates: [logistic, decision_tree], folds: 2, repeats: 1, max_rows: 400, top_k: 1, time_budget_s: 60}}
train: {{search: random, n_iter: 2, folds: 2, learning_curve: false, time_budget_s: 60}}
evaluate: {{bootstrap: 50, threshold_folds: 2, permutation_repeats: 1}}
sweep: {{vary: {{train.search: [random, halving]}}, parallel: 2}}
"""
Swept = tuple[subprocess.CompletedProcess[str], Path, dict[str, Any]]


def mlworkflow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=1800, check=False)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Swept:
    """One sweep of the smoke-sized params (its variants from the file's sweep section); (process, root, record)."""
    root = tmp_path_factory.mktemp("sweep")
    params = root / "tiny.yaml"
    params.write_text(SMOKE_SIZED, encoding="utf-8")
    done = mlworkflow("sweep", str(params), "--root", str(root), cwd=root)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads(next((root / "sweeps").glob("*/sweep.json")).read_text(encoding="utf-8"))
    return done, root, record


def leaderboard(swept: Swept) -> Path:
    done, _, _ = swept
    return Path(next(line for line in done.stdout.splitlines() if line.startswith("leaderboard: "))[13:])


def test_both_variants_finish_in_parallel(swept: Swept) -> None:
    done, root, record = swept
    assert [v["status"] for v in record["variants"]] == ["ok", "ok"]
    cpus = max(1, parallel.cpu_budget(os.environ) // 2)  # each variant's share of the cores
    assert (record["parallel"], record["cpus"]) == (2, cpus) and record["shared"] == ["data", "preprocess", "select"]
    assert f"{record['sweep_id']}: 2 variants, 2 at a time, {cpus} core(s) each" in done.stdout
    for variant in record["variants"]:
        state = runstate.read(root / "runs" / variant["run_id"] / "state.json")
        assert state.status == "ok" and set(state.done) == {"data", "preprocess", "select", "train", "evaluate"}
        params = json.loads((root / "runs" / variant["run_id"] / "params.json").read_text(encoding="utf-8"))
        assert params["train"]["search"] == variant["values"]["train.search"]


def test_the_shared_stages_come_from_the_cache(swept: Swept) -> None:
    _, root, record = swept
    first, second = (v["run_id"] for v in record["variants"])
    reasons = runstate.read(root / "runs" / second / "state.json").reasons
    assert {stage: reasons[stage] for stage in record["shared"]} == dict.fromkeys(record["shared"], f"reused from {first}")
    assert reasons["train"].startswith("ran")


def test_the_leaderboard_lists_both_with_links_that_resolve(swept: Swept) -> None:
    _, root, record = swept
    page = leaderboard(swept).read_text(encoding="utf-8")
    run_ids = [v["run_id"] for v in record["variants"]]
    links = re.findall(r'href="([^"]+)"', page)
    assert sorted(links) == sorted(["index.html", *[f"{r}/index.html" for r in run_ids]])
    assert all((root / "reports" / link).is_file() for link in links)
    assert page.count("<td class=\"num\">best</td>") == 1 and "<code>halving</code>" in page
    assert re.search(r'<td class="num">[-+]?\d\.\d{3} \[[-+]?\d\.\d{3}, [-+]?\d\.\d{3}\]</td>\s*<td>(yes|no)</td>', page)
    assert "data, preprocess, select (from" in page


def test_compare_takes_the_sweep(swept: Swept) -> None:
    _, root, record = swept
    done = mlworkflow("compare", str(root / "sweeps" / record["sweep_id"]), cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    page = (root / "reports" / f"compare-{record['sweep_id']}.html").read_text(encoding="utf-8")
    assert all(f'href="{v["run_id"]}/index.html"' in page for v in record["variants"]) and "train.search" in page


def test_the_leaderboard_in_a_browser(swept: Swept, watched: tuple[Any, Page, PageWatch]) -> None:
    _, _, record = swept
    _, page, watch = watched
    page.goto(leaderboard(swept).as_uri())
    assert page.locator("#mlw-leaderboard tbody tr").count() == 2
    second = record["variants"][1]["run_id"]
    page.locator(f"a[href='{second}/index.html']").click()
    page.wait_for_url(re.compile(rf"/{second}/index\.html$"))
    assert watch.problems() == {}


DATA_ONLY = f"""
run: {{name: tiny, seed: 7}}
data: {{path: {PROJECT_ROOT / "data" / "adult_train.csv.gz"}, target: income, sample_rows: 300}}
"""


@pytest.fixture(scope="module")
def swept_on_cluster(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Swept:
    """A two-variant sweep of the data stage alone (the cheapest run that starts a kernel) with --cluster."""
    root = tmp_path_factory.mktemp("sweep-cluster")
    params = root / "tiny.yaml"
    params.write_text(DATA_ONLY, encoding="utf-8")
    done = mlworkflow("sweep", str(params), "--vary", "data.sample_rows=300,400", "--stages", "data",
                      "--cluster", cluster.scheduler_address, "--root", str(root), cwd=root)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads(next((root / "sweeps").glob("*/sweep.json")).read_text(encoding="utf-8"))
    return done, root, record


def variants_each_worker_ran(cluster: Any) -> dict[str, set[str]]:
    """{worker address: the sweep-variant task keys it executed}, from each worker's own transition log."""
    from distributed import Client

    def executed(dask_worker: Any) -> list[str]:
        return sorted({str(entry[0]) for entry in dask_worker.state.log
                       if str(entry[0]).startswith("variant-") and "executing" in entry[1:3]})

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        return {address: set(keys) for address, keys in client.run(executed).items()}


def test_on_a_cluster_each_variant_runs_as_a_task_of_its_workers(swept_on_cluster: Swept, cluster: Any) -> None:
    done, root, record = swept_on_cluster
    run_ids = [v["run_id"] for v in record["variants"]]
    assert [v["status"] for v in record["variants"]] == ["ok", "ok"] and record["shared"] == []
    assert f"variants: tasks of the Dask cluster at {cluster.scheduler_address}" in done.stdout
    ran = variants_each_worker_ran(cluster)
    assert set(ran) == set(cluster.scheduler_info["workers"])
    assert sorted(key for keys in ran.values() for key in keys) == sorted(f"variant-{r}" for r in run_ids)
    for variant in record["variants"]:
        state = runstate.read(root / "runs" / variant["run_id"] / "state.json")
        assert state.status == "ok" and state.reasons == {"data": "ran: first run"}
        params = json.loads((root / "runs" / variant["run_id"] / "params.json").read_text(encoding="utf-8"))
        assert params["data"]["sample_rows"] == variant["values"]["data.sample_rows"]
        assert params["run"]["cluster"] == cluster.scheduler_address


def test_on_a_cluster_the_leaderboard_lists_both_variants(swept_on_cluster: Swept) -> None:
    _, root, record = swept_on_cluster
    page = leaderboard(swept_on_cluster).read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]+)"', page)
    assert sorted(links) == sorted(["index.html", *[f"{v['run_id']}/index.html" for v in record["variants"]]])
    assert all((root / "reports" / link).is_file() for link in links)
    assert page.count("no evaluation (the evaluate stage was not run)") == 2
    assert "<code>300</code>" in page and "<code>400</code>" in page
