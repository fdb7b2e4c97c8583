"""JupyterLab as `make lab` starts it: 01_data and 05_evaluate run top to bottom in a real browser, their widgets
respond, and no news pop-up appears."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlworkflow.config import NOTEBOOKS, PROJECT_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from tests.conftest import PageWatch

pytestmark = pytest.mark.e2e

NOTEBOOK = "05_evaluate.ipynb"
# Every cell attached to the page (no windowing); the news settings come from the project's jupyter/ folder, as in
# `make lab`, so the test proves that folder silences the news pop-up.
LAB_SETTINGS = {"@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"}}
NEWS = "/lab/api/settings/@jupyterlab/apputils-extension:notification"
POINT = re.compile(r"false positive rate ([\d.]+), true positive rate ([\d.]+)")
CONFUSION = re.compile(r"true \S+\s+(\d+)\s+(\d+)\s+true \S+\s+(\d+)\s+(\d+)")
BROWSED = re.compile(r"(\d[\d,]*) misclassified")
PROMPTS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
    .map(e => e.textContent.trim())"""
ALL_RAN = (
    f"() => {{ const p = ({PROMPTS})(); return p.length > 0 && p.every(t => /^\\[\\d+\\]:$/.test(t)); }}"
)
NONE_RAN = f"() => {{ const p = ({PROMPTS})(); return p.length > 0 && p.every(t => t === '[ ]:'); }}"
ERROR = ".jp-NotebookPanel:not(.lm-mod-hidden) [data-mime-type='application/vnd.jupyter.error']"
DONE = f"() => ({ALL_RAN})() || document.querySelector({ERROR!r}) !== null"  # stop waiting at the first error
SCORES = re.compile(r"precision ([\d.]+) · recall ([\d.]+) · F1 ([\d.]+)")
PROBABILITY = re.compile(r"P\(>50K\) = ([\d.]+)")
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab server on loopback."""

    url: str
    token: str
    log: Path

    def get(self, path: str) -> Any:
        """GET a server API path and decode its JSON."""
        with LOOPBACK.open(f"{self.url}{path}?token={self.token}", timeout=5) as response:
            return json.loads(response.read())

WIDGET_WAIT_S = 120  # generous: a loaded 2-core machine took over 30 s to draw the explorer's first plot

def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def lab_folder(work: Path, artifacts: Path) -> Path:
    """A copy of the notebooks beside `data/` and `runs/lab/artifacts`, as their default parameters expect."""
    shutil.copytree(NOTEBOOKS, work / "notebooks")
    (work / "data").symlink_to(NOTEBOOKS.parent / "data", target_is_directory=True)
    shutil.copytree(artifacts, work / "runs" / "lab" / "artifacts")
    for name, values in LAB_SETTINGS.items():
        target = work / "settings" / f"{name}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values), encoding="utf-8")
    return work / "notebooks"


def wait_until_up(process: subprocess.Popen[bytes], lab: Lab, seconds: float) -> None:
    """Poll the server's status until it answers; fail with its log if it exits or takes too long."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{lab.log.read_text()[-3000:]}")
        try:
            lab.get("/api/status")
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer within {seconds} s:\n{lab.log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes], lab: Lab) -> None:
    """Ask the server to shut down (it stops its kernels), then end its process group."""
    request = urllib.request.Request(f"{lab.url}/api/shutdown?token={lab.token}", method="POST")
    try:
        LOOPBACK.open(request, timeout=5).close()
        process.wait(timeout=20)
    except (urllib.error.URLError, ConnectionError, subprocess.TimeoutExpired):
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is None:
            os.killpg(process.pid, sig)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture
def lab(tmp_path_factory: pytest.TempPathFactory, smoke_reports: Path) -> Iterator[Lab]:
    """JupyterLab from the project's environment on a free loopback port, serving a copy of the notebooks.

    The artifacts upstream of 05_evaluate come from the smoke run: `params/smoke.yaml` equals the
    notebooks' defaults (a contract test checks it), so they are what running 01–04 here would write.
    """
    work = tmp_path_factory.mktemp("lab")
    artifacts = smoke_reports.parents[1] / "runs" / smoke_reports.name / "artifacts"
    notebooks = lab_folder(work, artifacts)
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
        "JUPYTER_CONFIG_DIR": str(work / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(work / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"),
        "JUPYTER_CONFIG_PATH": str(PROJECT_ROOT / "jupyter"),  # what `make lab` sets
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.open_browser=False"]
    command += ["--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    command += [f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}"]
    command += [
        "--ServerApp.allow_root=True",
        "--LabApp.extension_manager=readonly",
        "--LabApp.news_url=None",
    ]
    command += ["--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    info = Lab(f"http://127.0.0.1:{port}", token, work / "server.log")
    with info.log.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until_up(process, info, seconds=60)
        yield info
    finally:
        stop(process, info)


def menu(page: Page, title: str, command: str) -> None:
    """Choose a JupyterLab menu entry by its command id."""
    page.locator("li.lm-MenuBar-item", has_text=title).click()
    page.locator(f"li.lm-Menu-item[data-command='{command}']").click()


def numbers(locator: Locator, pattern: re.Pattern[str]) -> tuple[float, ...]:
    """The numbers a widget's text shows, read with `pattern`."""
    found = pattern.search(locator.inner_text())
    assert found, f"{pattern.pattern!r} not in {locator.inner_text()!r}"
    return tuple(float(g) for g in found.groups())


def wait_for_change(
    locator: Locator, pattern: re.Pattern[str], before: tuple[float, ...]
) -> tuple[float, ...]:
    """Wait (bounded) until the numbers shown differ from `before`; return them."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = numbers(locator, pattern)
        if now != before:
            return now
        time.sleep(0.2)
    pytest.fail(f"{locator} still shows {before} after 20 s")


def run_all(page: Page, lab: Lab, notebook: str) -> None:
    """Open a notebook, clear its saved outputs, run every cell and wait until all ran without an error."""
    page.goto(f"{lab.url}/lab/tree/{notebook}?token={lab.token}")  # the prompts read are this notebook's (visible)
    page.locator("#jp-main-statusbar", has_text="Idle").wait_for(timeout=120_000)  # the kernel has started
    menu(page, "Edit", "editmenu:clear-all")  # outputs seen below come from this run, not the saved file
    page.wait_for_function(NONE_RAN, timeout=15_000)
    menu(page, "Run", "runmenu:run-all")
    try:
        page.wait_for_function(DONE, timeout=300_000)  # generous: a loaded 2-core CI machine runs 05 in minutes
    except Exception as error:  # playwright's TimeoutError; playwright is imported only where it is installed
        if type(error).__name__ != "TimeoutError":
            raise
        prompts, log = page.evaluate(PROMPTS), lab.log.read_text(errors="replace")[-4000:]
        pytest.fail(f"{notebook} did not finish in 300 s; prompts {prompts}; server log:\n{log}")
    errors = page.locator(ERROR)
    assert errors.count() == 0, errors.first.inner_text()


def wait_for_new(locator: Locator, attribute: str, before: str | None) -> str:
    """Wait (bounded) until an element's attribute differs from `before` (an image redrawn gets a new src)."""
    deadline = time.monotonic() + WIDGET_WAIT_S
    while time.monotonic() < deadline:
        now = locator.get_attribute(attribute)
        if now and now != before:
            return now
        time.sleep(0.2)
    pytest.fail(f"{locator} kept {attribute}={before!r} for {WIDGET_WAIT_S} s")


def assert_no_news_prompt(page: Page, lab: Lab) -> None:
    """The project's config keeps JupyterLab from asking about (or fetching) news, as `make lab` starts it."""
    found = lab.get(NEWS)  # the overrides become the schema's defaults; no user setting replaces them here
    settings = {name: spec.get("default") for name, spec in found["schema"]["properties"].items()}
    settings |= found["settings"] or {}
    assert settings["fetchNews"] == "false" and settings["checkForUpdates"] is False
    assert page.get_by_text("official Jupyter news").count() == 0  # JupyterLab 4's prompt reads "… notified about …"


def test_the_lab_kernel_is_the_project_interpreter() -> None:
    from jupyter_client import KernelManager

    assert KernelManager(kernel_name="python3").format_kernel_cmd()[0] == sys.executable


def test_evaluate_runs_and_its_widgets_respond(
    lab: Lab, watched: tuple[Any, Page, PageWatch], tmp_path: Path, record_property: Any
) -> None:
    context, page, watch = watched
    context.set_default_timeout(WIDGET_WAIT_S * 1000)
    page.set_viewport_size({"width": 1400, "height": 1000})
    run_all(page, lab, NOTEBOOK)
    assert [k["name"] for k in lab.get("/api/kernels")] == ["python3"]

    slider, readout = page.locator(".mlw-threshold-slider"), page.locator(".mlw-threshold-readout")
    plot, browsed = page.locator(".mlw-threshold-plot"), page.locator(".mlw-error-browser-rows")
    before, shown = numbers(readout, SCORES), float(slider.locator(".widget-readout").inner_text())
    point, cells, errors = numbers(readout, POINT), numbers(readout, CONFUSION), numbers(browsed, BROWSED)
    drawn = plot.get_attribute("src")
    slider.locator(".noUi-handle").focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    after = wait_for_change(readout, SCORES, before)
    assert float(slider.locator(".widget-readout").inner_text()) > shown  # the threshold went up …
    assert after[1] < before[1]  # … so recall fell
    moved = numbers(readout, POINT)
    assert moved[0] <= point[0] and moved[1] < point[1]  # the ROC point moved down the curve …
    assert numbers(readout, CONFUSION) != cells  # … the confusion counts changed …
    wait_for_new(plot, "src", drawn)  # … and the curves and heatmap were redrawn
    wait_for_change(browsed, BROWSED, errors)  # the error browser follows the slider
    slider.scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "lab_threshold.png")

    result = page.locator(".mlw-what-if-result")
    field = page.locator(
        ".mlw-what-if-fields .widget-inline-hbox", has=page.get_by_text("capital-gain", exact=True)
    )
    before = numbers(result, PROBABILITY)
    field.locator("input").fill("99999")
    field.locator("input").press("Enter")
    assert wait_for_change(result, PROBABILITY, before)[0] > before[0]
    result.scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "lab_what_if.png")
    for name in ("lab_threshold.png", "lab_what_if.png"):
        record_property("screenshot", str(tmp_path / name))
    assert_no_news_prompt(page, lab)
    assert watch.problems() == {}


def test_data_explorer_responds(
    lab: Lab, watched: tuple[Any, Page, PageWatch], tmp_path: Path, record_property: Any
) -> None:
    context, page, watch = watched
    context.set_default_timeout(WIDGET_WAIT_S * 1000)
    page.set_viewport_size({"width": 1400, "height": 1000})
    run_all(page, lab, "01_data.ipynb")
    panel = page.locator(".mlw-explore")
    plot, table = panel.locator(".mlw-explore-column-plot"), panel.locator(".mlw-explore-column-table")
    drawn, rows = wait_for_new(plot, "src", None), table.inner_text()
    picker = panel.locator(".widget-dropdown select").first
    picked = next(o for o in picker.locator("option").all_inner_texts() if o != picker.input_value())
    picker.select_option(picked)
    wait_for_new(plot, "src", drawn)
    assert picked in table.inner_text() and table.inner_text() != rows  # the table is the new column's
    panel.scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "lab_explore_column.png")

    panel.locator(".lm-TabBar-tab", has_text="Cross two columns").click()
    cross = panel.locator(".mlw-explore-cross")
    crossed = wait_for_new(cross, "src", None)
    second = panel.locator(".widget-dropdown select").nth(3)  # the tabs' pickers: column, filter, rows, columns, flag
    second.select_option(next(o for o in second.locator("option").all_inner_texts() if o != second.input_value()))
    wait_for_new(cross, "src", crossed)
    page.screenshot(path=tmp_path / "lab_explore_cross.png")
    for name in ("lab_explore_column.png", "lab_explore_cross.png"):
        record_property("screenshot", str(tmp_path / name))
    assert_no_news_prompt(page, lab)
    assert watch.problems() == {}
