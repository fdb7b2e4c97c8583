"""A run's state file: checked when read, claimed atomically, and a run whose process is gone shown as interrupted."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mlworkflow.workflow import runstate
from mlworkflow.workflow.runstate import Owner, RunState


def dead_owner() -> Owner:
    """The owner record of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return Owner(pid=child.pid, host=socket.gethostname(), started=0.0)


def test_a_state_written_is_read_back(tmp_path: Path) -> None:
    state = RunState(done={"data": "ab12"}, status="ok", params_source="p.yaml", overrides=["run.seed=1"],
                     owner=runstate.this_process(), resume="mlworkflow run p.yaml --resume r")
    runstate.write(tmp_path / "state.json", state)
    assert runstate.read(tmp_path / "state.json") == state
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left


def test_a_state_written_before_owners_existed_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"done": {}, "status": "failed", "params_source": "p.yaml", "overrides": []}))
    assert runstate.read(path).owner is None


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (b"{not json", "invalid JSON (Expecting property name enclosed in double quotes at line 1, column 2)"),
        (b"\xff\xfe", "a byte at offset 0 that is not UTF-8"),
        (b"[]", "a JSON list"),
        (b'"ok"', "a JSON str"),
        (b'{"done": [], "status": "ok"}', "'done': Input should be a valid dictionary"),
        (b'{"status": "finished"}', "'status': Input should be 'running', 'ok' or 'failed'"),
        (b'{"status": "ok", "extra": 1}', "'extra': Extra inputs are not permitted"),
        (b'{"owner": {"pid": -1, "host": "h", "started": 0}}', "'owner.pid': Input should be greater than or equal to 1"),
    ],
)
def test_an_unreadable_state_is_one_line_naming_the_file(tmp_path: Path, content: bytes, found: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(runstate.RunStateError) as raised:
        runstate.read(path)
    assert str(raised.value).startswith(f"{path}: expected a run state")
    assert str(raised.value).endswith(f"found {found}") and "\n" not in str(raised.value)


def test_claiming_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "run" / "state.json"
    assert runstate.claim(path, RunState(params_source="first"))
    assert not runstate.claim(path, RunState(params_source="second"))
    assert runstate.read(path).params_source == "first"


def test_a_running_state_whose_process_is_gone_is_interrupted() -> None:
    assert runstate.status_of(RunState(owner=runstate.this_process())) == "running"
    assert runstate.is_alive(dead_owner()) is False
    assert runstate.status_of(RunState(owner=dead_owner())) == runstate.INTERRUPTED
    assert runstate.status_of(RunState()) == runstate.INTERRUPTED  # running, by a runner that recorded no process
    assert runstate.status_of(RunState(status="failed", owner=dead_owner())) == "failed"


def test_a_reused_pid_is_not_the_run_s_process() -> None:
    me = runstate.this_process()
    assert runstate.is_alive(Owner(pid=me.pid, host=me.host, started=me.started - 3600)) is False


def test_a_run_on_another_host_cannot_be_judged_from_here() -> None:
    elsewhere = Owner(pid=1, host=f"not-{socket.gethostname()}", started=0.0)
    assert runstate.is_alive(elsewhere) is None
    assert runstate.status_of(RunState(owner=elsewhere)) == "running"
