"""JupyterLab as `make lab` starts it: 05_evaluate runs top to bottom in a real browser and its widgets respond."""

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

from mlworkflow.config import NOTEBOOKS

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from tests.conftest import PageWatch

pytestmark = pytest.mark.e2e

NOTEBOOK = "05_evaluate.ipynb"
# Quiet, offline JupyterLab: no news or update checks, every cell attached to the page (no windowing).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
PROMPTS = """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')]
    .map(e => e.textContent.trim())"""
ALL_RAN = (
    f"() => {{ const p = ({PROMPTS})(); return p.length > 0 && p.every(t => /^\\[\\d+\\]:$/.test(t)); }}"
)
NONE_RAN = f"() => {{ const p = ({PROMPTS})(); return p.length > 0 && p.every(t => t === '[ ]:'); }}"
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


@pytest.fixture(scope="module")
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


def test_the_lab_kernel_is_the_project_interpreter() -> None:
    from jupyter_client import KernelManager

    assert KernelManager(kernel_name="python3").format_kernel_cmd()[0] == sys.executable


def test_evaluate_runs_and_its_widgets_respond(
    lab: Lab, watched: tuple[Any, Page, PageWatch], tmp_path: Path, record_property: Any
) -> None:
    context, page, watch = watched
    context.set_default_timeout(30_000)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
    page.locator("#jp-main-statusbar", has_text="Idle").wait_for(timeout=60_000)  # the kernel has started
    menu(page, "Edit", "editmenu:clear-all")  # outputs seen below come from this run, not the saved file
    page.wait_for_function(NONE_RAN, timeout=15_000)
    menu(page, "Run", "runmenu:run-all")
    page.wait_for_function(ALL_RAN, timeout=90_000)
    assert page.locator(".jp-NotebookPanel [data-mime-type='application/vnd.jupyter.error']").count() == 0
    assert [k["name"] for k in lab.get("/api/kernels")] == ["python3"]

    slider, readout = page.locator(".mlw-threshold-slider"), page.locator(".mlw-threshold-readout")
    before, shown = numbers(readout, SCORES), float(slider.locator(".widget-readout").inner_text())
    slider.locator(".noUi-handle").focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    after = wait_for_change(readout, SCORES, before)
    assert float(slider.locator(".widget-readout").inner_text()) > shown  # the threshold went up …
    assert after[1] < before[1]  # … so recall fell
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
    assert watch.problems() == {}
