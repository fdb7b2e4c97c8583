"""A run's state.json: the stages done with their cache keys and files, the status, and the process running it.

A run in progress records its process (pid, host, the process's start time); a state still `running`
whose process is gone from this host (or is another process reusing the pid) was interrupted —
killed mid-stage — and is shown so, with the command that resumes it.
"""

from __future__ import annotations

import functools
import json
import os
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlworkflow.errors import MlwError

Status = Literal["running", "ok", "failed"]
INTERRUPTED = "interrupted"
START_TOLERANCE_S = 1.0  # psutil's start times are rounded; a reused pid starts later than that


class RunStateError(MlwError):
    """A run's state or params file is unreadable or not what the runner writes."""

    def __init__(self, path: Path, expected: str, found: str) -> None:
        self.path, self.expected, self.found = path, expected, found
        super().__init__(f"{path}: expected {expected}, found {found}")


class Owner(BaseModel):
    """The process running a run: its id, host and start time (seconds since the epoch)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pid: int = Field(ge=1)
    host: str
    started: float


class RunState(BaseModel):
    """What state.json holds: per done stage its cache key, its files' SHA-256 and whether it ran or was
    reused, the stages asked for (older runs have no owner, no resume command, no outputs, reasons or stages)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    done: dict[str, str] = {}
    outputs: dict[str, dict[str, str]] = {}
    reasons: dict[str, str] = {}
    status: Status = "running"
    params_source: str = ""
    overrides: list[str] = []
    stages: list[str] = []  # the stages asked for (`--stages`; `mlworkflow monitor`: monitor); empty: every stage
    owner: Owner | None = None
    resume: str = ""


def this_process() -> Owner:
    """The current process as a run's owner."""
    return owner_of(os.getpid())


@functools.cache
def owner_of(pid: int) -> Owner:
    """A process of this host as a run's owner, looked up once (a run saves its state after every stage)."""
    import psutil

    return Owner(pid=pid, host=socket.gethostname(), started=psutil.Process(pid).create_time())


def is_alive(owner: Owner) -> bool | None:
    """Whether the owner still runs; None when it ran on another host (this one cannot tell)."""
    import psutil

    if owner.host != socket.gethostname():
        return None
    try:
        started = psutil.Process(owner.pid).create_time()
    except psutil.NoSuchProcess:  # a zombie too: it has exited
        return False
    return bool(abs(started - owner.started) < START_TOLERANCE_S)


def status_of(state: RunState) -> str:
    """The status to show: `interrupted` for a run left `running` by a process that is gone."""
    if state.status != "running":
        return state.status
    alive = is_alive(state.owner) if state.owner is not None else False
    return INTERRUPTED if alive is False else "running"


def read_object(path: Path, expected: str) -> dict[str, Any]:
    """A JSON object from a file, or a RunStateError naming the file, what was expected and what was found."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RunStateError(path, expected, f"a byte at offset {exc.start} that is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise RunStateError(path, expected, f"invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise RunStateError(path, expected, f"a JSON {type(data).__name__}")
    return data


def read(path: Path) -> RunState:
    """A run's state file, checked."""
    expected = "a run state (a JSON object with done, status, params_source, overrides)"
    data = read_object(path, expected)
    try:
        return RunState.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise RunStateError(path, expected, f"'{where}': {error['msg']}") from None


def write(path: Path, state: RunState) -> None:
    """Write the state file whole (a reader sees the old or the new state, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(state.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def claim(path: Path, state: RunState) -> bool:
    """Create the state file only if no run has it yet (atomic); False when it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(state.model_dump_json(indent=2) + "\n")
    except FileExistsError:
        return False
    return True
