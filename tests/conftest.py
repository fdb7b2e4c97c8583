"""Shared fixtures: the repo root, ../shared/data (skipped where absent), one smoke run, a LocalCluster, a headless Chromium."""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
# Without the background-networking flags Chromium keeps calling Google's hosts, which this network refuses.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
LOCAL_URL = re.compile(
    r"^(?:file:|data:|blob:|about:|(?:https?|wss?)://(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?/)"
)


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


def run_smoke(out: Path) -> subprocess.CompletedProcess[str]:
    """`mlworkflow run params/smoke.yaml --root OUT`, as a user types it."""
    command = [sys.executable, "-m", "mlworkflow.workflow.cli", "run", str(ROOT / "params" / "smoke.yaml")]
    return subprocess.run(
        [*command, "--root", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One smoke run per test session, shared by the end-to-end tests (and xdist workers); (process, root)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        out = tmp_path_factory.mktemp("smoke")
        return run_smoke(out), out
    shared = tmp_path_factory.getbasetemp().parent  # this session's folder, common to its workers
    out, record = shared / "smoke", shared / "smoke.json"
    with (shared / "smoke.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first worker runs it, the others wait and reuse it
        if not record.is_file():
            done = run_smoke(out)
            record.write_text(
                json.dumps([done.args, done.returncode, done.stdout, done.stderr]), encoding="utf-8"
            )
    args, returncode, stdout, stderr = json.loads(record.read_text(encoding="utf-8"))
    return subprocess.CompletedProcess(args, returncode, stdout, stderr), out


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A dask.distributed LocalCluster of two single-threaded worker processes on loopback."""
    distributed = pytest.importorskip("distributed")
    try:
        local = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
    except (OSError, TimeoutError) as exc:
        pytest.skip(f"distributed cannot start a LocalCluster on loopback here ({exc})")
    with local:
        yield local


@pytest.fixture(scope="session")
def smoke_reports(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> Path:
    """The smoke run's report folder (`reports/<run>/`); fails when the run did."""
    done, _ = smoke_run
    assert done.returncode == 0, f"the smoke run failed:\n{done.stderr[-3000:]}"
    index = Path(
        next(line for line in done.stdout.splitlines() if line.startswith("done: "))[len("done: ") :]
    )
    return index.parent


def chromium() -> str | None:
    """Chromium's executable, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_missing() -> str:
    """Why the browser tests cannot run here ('' when they can)."""
    if chromium() is None:
        return "needs Chromium: `apt-get install chromium` (Debian; .ci/run installs it)"
    if importlib.util.find_spec("playwright") is None:
        return "needs playwright: pip install -e '.[dev]'"
    return ""


# Seconds a module takes on a loaded 2-core machine (CI's `--durations`, setup included, rounded); test_cli
# starts the shared smoke run (about 100 s) with its first test, so that run is counted there.
MODULE_SECONDS = {
    "tests/workflow/test_cli.py": 400,
    "tests/e2e/test_cluster_run.py": 200,
    "tests/e2e/test_sweep_run.py": 170,
    "tests/e2e/test_derived_run.py": 150,
    "tests/e2e/test_ensemble_run.py": 125,
    "tests/e2e/test_cache_run.py": 125,
    "tests/e2e/test_text_run.py": 115,
    "tests/workflow/test_retrain.py": 85,
    "tests/e2e/test_imbalanced_run.py": 85,
    "tests/e2e/test_lightgbm_run.py": 75,
    "tests/stages/test_monitor.py": 60,
    "tests/e2e/test_day_first_run.py": 50,
    "tests/e2e/test_lab.py": 50,
    "tests/service/test_hostile_http.py": 40,
}


def pytest_configure(config: pytest.Config) -> None:
    """Keep the module order pytest_collection_modifyitems sets under xdist, whose loadfile scheduler otherwise
    re-sorts modules by their number of tests (which put the few-test, minutes-long end-to-end modules last)."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def module_order(module: str, running: set[str]) -> tuple[int, bool]:
    """A module's place: the measured heaviest first, then the other modules that run notebooks, then the rest."""
    return -MODULE_SECONDS.get(module, 0), module not in running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the tests that need a browser before any of their (slow) fixtures run, where there is none; the
    heaviest modules first, so that `-n 2 --dist loadfile` hands them out longest first and ends with small
    modules on both workers, not one long one."""
    reason = browser_missing()
    for item in items:
        if reason and "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason=reason))
    running = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("e2e")}
    items.sort(key=lambda item: module_order(item.nodeid.split("::")[0], running))  # stable: modules keep their order


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright; skip where either is missing (a fresh clone).

    One per test module, not per session: while Playwright's sync API is open it keeps an asyncio loop
    running in this thread, and later tests in the same worker call asyncio.run (tests/service).
    """
    if reason := browser_missing():
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright starts it with a fresh, empty profile folder of its own.
        launched = playwright.chromium.launch(
            executable_path=chromium(), args=list(CHROMIUM_FLAGS), timeout=60_000
        )
        yield launched
        launched.close()


@dataclass
class PageWatch:
    """What pages did that tests forbid: console errors, uncaught exceptions, failed and non-local requests."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    nonlocal_requests: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        """Let local requests through; abort and record any other."""
        if LOCAL_URL.match(route.request.url):
            route.continue_()
            return
        self.nonlocal_requests.append(route.request.url)
        route.abort("blockedbyclient")

    def attach(self, page: Page) -> None:
        """Record the page's console errors, exceptions, failed requests and non-local web sockets."""
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url[:200]}: {r.failure}"))
        page.on(
            "response",
            lambda r: self.failed.append(f"{r.url[:200]}: HTTP {r.status}") if r.status >= 400 else None,
        )
        page.on(
            "websocket", lambda w: None if LOCAL_URL.match(w.url) else self.nonlocal_requests.append(w.url)
        )

    def problems(self) -> dict[str, list[str]]:
        """Everything recorded, by kind; empty when the pages behaved."""
        found = {
            "console errors": self.console_errors,
            "uncaught exceptions": self.page_errors,
            "failed requests": self.failed,
            "requests to non-local hosts": self.nonlocal_requests,
        }
        return {kind: items for kind, items in found.items() if items}


@pytest.fixture
def watched(browser: Browser) -> Iterator[tuple[BrowserContext, Page, PageWatch]]:
    """A fresh browser context and page whose every request is routed: only file:// and loopback go through."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    watch = PageWatch()
    context.route("**/*", watch.route)
    page = context.new_page()
    watch.attach(page)
    yield context, page, watch
    context.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the screenshots the browser tests saved (test property 'screenshot'), so a person can look."""
    reports = [r for kind in ("passed", "failed") for r in terminalreporter.stats.get(kind, [])]
    saved = dict.fromkeys(
        str(v) for r in reports for k, v in getattr(r, "user_properties", ()) if k == "screenshot"
    )
    if saved:
        terminalreporter.write_sep("-", "screenshots saved by the browser tests")
        for path in saved:
            terminalreporter.write_line(path)


@pytest.fixture(params=["sqlite", "postgresql"])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh prediction-log database: a SQLite file, or a PostgreSQL schema (skipped without a server)."""
    from mlworkflow.bundle.predlog import sqlite_url
    from tests import servekit as kit

    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "logs" / "predictions.sqlite")
        return
    url = os.environ.get(kit.POSTGRES_ENV)
    if not url:
        pytest.skip(f"set {kit.POSTGRES_ENV} to a PostgreSQL URL (.ci/run starts a server and sets it)")
    with kit.postgres_schema(url) as schema_url:
        yield schema_url
