"""The stage cache shared by every run under a root: a stage's key, why a stage runs, and the store.

A stage's key hashes everything that decides what it writes:
- its notebook's cells, code and markdown (never outputs);
- its params section and `run.seed`, less the keys in EXCLUDED: `n_jobs` and `cluster` decide how fast or
  where a stage runs, not what it writes (`run.name` and the run id are never part of a key);
- the SHA-256 of every input artifact: the files the stages before it left in the run's artifact folder
  (less deploy's trial log, which no stage reads);
- the source of each `lib/mlworkflow` module its notebook imports, transitively (function-level imports too);
- the installed distributions and their versions;
- what it reads from outside the run: the data source's bytes (for SQL, the query's result), the monitor's
  batch and reference files and the registry version it watches.

A stage that finished is stored in `<root>/cache/<stage>/<key>/` (layout.cache_dir): its artifacts, executed
notebook and report page, hard-linked from its run (copied across file systems), so deleting any run leaves
the store whole. A run reusing it gets links to the same files and stays self-contained. Failed stages are
never stored; a stored file whose bytes changed since is not reused.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from mlworkflow import io, layout
from mlworkflow.bundle.registry import Registry, RegistryError, registered_problem
from mlworkflow.errors import MlwError
from mlworkflow.params import DataParams, MonitorParams, Params
from mlworkflow.records import DEPLOY, DeployRecord

EXCLUDED = frozenset({"n_jobs", "cluster"})
PACKAGE = "mlworkflow"
LIB = Path(__file__).resolve().parents[1]  # the package folder whose modules the notebooks import
ENTRY_FILE = "entry.json"
IMPORTS_FILE = "imports.json"  # module source hash → the names it imports, so a new process parses no known source
ARTIFACTS = "artifacts"
DIST_SUFFIXES = (".dist-info", ".egg-info")
SHOWN = 2  # names a reason lists before "and N more"
Stat = tuple[int, int, int]  # inode, size, modification time (ns)


@dataclass(frozen=True)
class Key:
    """What decides a stage's outputs, part by part (so a reason can name the part that changed)."""

    stage: str
    notebook: str
    params: dict[str, Any]
    inputs: dict[str, str]
    lib: dict[str, str]
    packages: str
    external: dict[str, str]

    @property
    def digest(self) -> str:
        """The key as one hash: the stored stage's folder name."""
        payload = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


class Entry(BaseModel):
    """entry.json: a stored stage — its key's parts, the run that produced it, its files' SHA-256."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str
    digest: str
    run_id: str
    created: float
    key: dict[str, Any]
    outputs: dict[str, str]
    notebook: str
    report: str


@dataclass(frozen=True)
class Decision:
    """Whether a stage is reused (the stored entry) or runs, and why."""

    entry: Entry | None
    reason: str


@dataclass(frozen=True)
class Module:
    """One lib module as the import graph needs it: its source's hash and the names it imports."""

    sha256: str
    imports: frozenset[str]


_FILE_HASHES: dict[tuple[str, int, int], str] = {}  # per process: a data file hashed once per content
_MODULES: dict[tuple[str, int, int], Module] = {}  # per process: the import graph, parsed once per source
_CODE: dict[tuple[str, int, int], str] = {}  # per process: a notebook's code, IPython magics transformed
_IMPORTS: dict[str, list[str]] = {}  # "<sha256> <package>" (a module) or "<cells' sha256> notebook" → imported names;
# loaded from and saved to the store


# --- the key's parts -------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    """A file's SHA-256, computed once per process for each (path, size, modification time)."""
    status = path.stat()
    memo = (str(path.resolve()), status.st_size, status.st_mtime_ns)
    if memo not in _FILE_HASHES:
        _FILE_HASHES[memo] = io.file_sha256(path)
    return _FILE_HASHES[memo]


def cells(notebook: Path) -> list[tuple[str, str]]:
    """A notebook's cells as (type, source)."""
    content = json.loads(notebook.read_text(encoding="utf-8"))
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]) for c in content["cells"]]


def notebook_digest(notebook: Path) -> str:
    """The hash of a notebook's cells' sources (outputs and metadata left out)."""
    return hashlib.sha256(json.dumps(cells(notebook)).encode()).hexdigest()


def notebook_code(notebook: Path) -> str:
    """A notebook's code cells as Python (IPython magics turned into calls, so ast can parse them), once per
    process for each version of the file."""
    from IPython.core.inputtransformer2 import TransformerManager

    status = notebook.stat()
    memo = (str(notebook.resolve()), status.st_size, status.st_mtime_ns)
    if memo not in _CODE:
        manager = TransformerManager()
        _CODE[memo] = "\n".join(manager.transform_cell(source) for kind, source in cells(notebook) if kind == "code")
    return _CODE[memo]


def imported_names(tree: ast.AST, package: str) -> set[str]:
    """Every module name an import statement anywhere in the tree may load (relative ones resolved in package)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node.module, node.level, package)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def absolute(module: str | None, level: int, package: str) -> str:
    """The absolute name of `from <level dots><module> import …` inside package."""
    if not level:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - level + 1]
    return ".".join([*base, module] if module else base)


def module_file(lib_root: Path, name: str) -> Path | None:
    """The source file of a module of the package (its `__init__.py` for a subpackage), or None."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = lib_root.joinpath(*parts[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py") if parts[1:] else None):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def parsed(path: Path, package: str) -> Module:
    """A module's hash and imports, parsed once per process for each version of its file."""
    status = path.stat()
    memo = (str(path), status.st_size, status.st_mtime_ns)
    if memo not in _MODULES:
        source = path.read_bytes()
        sha = hashlib.sha256(source).hexdigest()
        known = f"{sha} {package}"
        if known not in _IMPORTS:
            _IMPORTS[known] = sorted(imported_names(ast.parse(source, str(path)), package))
        _MODULES[memo] = Module(sha, frozenset(_IMPORTS[known]))
    return _MODULES[memo]


def notebook_imports(notebook: Path, digest: str) -> list[str]:
    """The module names a notebook's code imports, parsed once per version of its cells (`digest`): the store keeps
    the lists, so a later process neither parses the notebook nor imports IPython to transform its magics."""
    known = f"{digest} notebook"
    if known not in _IMPORTS:
        _IMPORTS[known] = sorted(imported_names(ast.parse(notebook_code(notebook)), PACKAGE))
    return _IMPORTS[known]


def lib_sources(names: Iterable[str], lib_root: Path = LIB) -> dict[str, str]:
    """The lib modules named and those they import, transitively with their parent packages: `lib/mlworkflow/…`
    path → SHA-256."""
    pending, found = sorted(names), {}
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(lib_root, name)
        if path is None:
            continue
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        module = parsed(path, package)
        found[f"lib/{PACKAGE}/{path.relative_to(lib_root).as_posix()}"] = module.sha256
        parents = [".".join(name.split(".")[:n]) for n in range(1, name.count(".") + 1)]
        pending.extend(sorted(module.imports | set(parents)))
    return dict(sorted(found.items()))


def packages_digest(folders: Iterable[str] | None = None) -> str:
    """The hash of the installed distributions' names and versions (their metadata folders' names: reading
    every METADATA file through importlib.metadata costs about a second)."""
    searched = sys.path if folders is None else folders
    names = sorted(
        entry for folder in searched if os.path.isdir(folder) for entry in os.listdir(folder) if entry.endswith(DIST_SUFFIXES)
    )
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


@functools.cache
def installed_packages() -> str:
    """packages_digest of this environment, computed once per process."""
    return packages_digest()


def params_part(params: Params, stage: str) -> dict[str, Any]:
    """A stage's params as `section.key` → value, with `run.seed`, less the EXCLUDED keys."""
    section = getattr(params, stage).model_dump(mode="json")
    kept = {f"{stage}.{name}": value for name, value in section.items() if name not in EXCLUDED}
    return {"run.seed": params.run.seed, **kept}


def data_source(section: DataParams) -> dict[str, str]:
    """The data stage's outside input: the source file's SHA-256, or the SQL query's result's."""
    try:
        if section.path is not None:
            return {"data": file_sha256(Path(section.path))}
        result = io.read_sql_table(str(section.sql_url), str(section.sql_query), section.read)
        return {"data": io.frame_sha256(result.frame)}
    except (MlwError, OSError) as exc:  # the stage will fail on it with its report: a key no stored stage has
        return {"data": f"unreadable: {exc}"}


def watched_version(section: MonitorParams, root: Path) -> str:
    """The registry version (and its bundle's hash) that monitor.model points at now."""
    registry = Registry(layout.registry_in(root, section.registry or "models"))
    try:
        entry = registry.resolve(str(section.model))
    except RegistryError as exc:
        return f"unresolved: {exc}"
    return f"{entry.ref} {entry.sha256}"


def monitor_sources(section: MonitorParams, root: Path) -> dict[str, str]:
    """The monitor's outside inputs: its batch and reference files, and the version monitor.model names."""
    files = {"current": section.current, "reference": section.reference}
    found = {name: file_sha256(Path(path)) for name, path in files.items() if path is not None and Path(path).is_file()}
    if section.model is not None:
        found["model"] = watched_version(section, root)
    return found


def external_inputs(stage: str, params: Params, root: Path) -> dict[str, str]:
    """What a stage reads from outside the run's artifact folder, each as a hash."""
    if stage == "data":
        return data_source(params.data)
    if stage == "monitor":
        return monitor_sources(params.monitor, root)
    return {}


def never_reused(stage: str, params: Params) -> str:
    """Why a stage always runs ("" when it can be reused): the prediction log grows while a service runs."""
    if stage == "monitor" and params.monitor.current is None and params.monitor.log_url is not None:
        return "it reads the prediction log, which grows while the service runs"
    return ""


def stage_key(
    stage: str, params: Params, notebook: Path, inputs: Mapping[str, str], root: Path, lib_root: Path = LIB
) -> Key:
    """The key of one stage of a run: notebook, params, inputs, lib sources, packages, outside inputs."""
    digest = notebook_digest(notebook)
    return Key(
        stage=stage, notebook=digest, params=params_part(params, stage), inputs=dict(inputs),
        lib=lib_sources(notebook_imports(notebook, digest), lib_root), packages=installed_packages(),
        external=external_inputs(stage, params, root),
    )


# --- why a stage runs ------------------------------------------------------------------------------------------


def listed(names: list[str]) -> str:
    """Names for a reason: the first SHOWN, then how many more."""
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def changed(now: Mapping[str, Any], before: Mapping[str, Any]) -> list[str]:
    """The names whose values differ between two mappings (added and removed ones too)."""
    return sorted(name for name in {*now, *before} if now.get(name) != before.get(name))


def external_change(now: Mapping[str, str], before: Mapping[str, str]) -> list[str]:
    """A reason per outside input that changed: `data changed (sha256 1a2b3c4d5e6f…)`."""
    return [f"{name} changed (sha256 {str(now.get(name, 'none'))[:12]}…)" for name in changed(now, before)]


def distance(key: Key, before: Key) -> int:
    """How many names differ between two keys of a stage, every part counted (a notebook or packages change as one)."""
    named = (changed(key.params, before.params), changed(key.external, before.external), changed(key.lib, before.lib),
             changed(key.inputs, before.inputs))
    return sum(map(len, named)) + (key.notebook != before.notebook) + (key.packages != before.packages)


def changes(key: Key, before: Key | None, upstream_ran: bool) -> str:
    """Why a stage runs, compared with the stored stage its key missed (`Store.closest`): every part that changed."""
    if before is None:
        return "first run"
    reasons = []
    if params := changed(key.params, before.params):
        reasons.append(f"params {listed(params)} changed")
    reasons += external_change(key.external, before.external)
    if modules := changed(key.lib, before.lib):
        reasons.append(f"{listed(modules)} changed")
    if key.notebook != before.notebook:
        reasons.append("notebook changed")
    if files := changed(key.inputs, before.inputs):
        reasons.append("upstream stage re-ran" if upstream_ran else f"input artifacts {listed(files)} changed")
    if key.packages != before.packages:
        reasons.append("package versions changed")
    return "; ".join(reasons) or "no stored copy of this exact stage"


# --- the store ---------------------------------------------------------------------------------------------------


def link(source: Path, target: Path) -> None:
    """Hard-link source at target, replacing what target held (a copy where a link cannot be made)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(source, target)


def snapshot(folder: Path) -> dict[str, Stat]:
    """Every file under a folder (relative name) with its inode, size and modification time."""
    found = {}
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file():
            status = path.stat()
            found[path.relative_to(folder).as_posix()] = (status.st_ino, status.st_size, status.st_mtime_ns)
    return found


def written(before: Mapping[str, Stat], after: Mapping[str, Stat]) -> list[str]:
    """The files created or changed between two snapshots."""
    return sorted(name for name, status in after.items() if before.get(name) != status)


def deploy_problem(folder: Path) -> str:
    """Why a stored deploy cannot be reused: its registry version is gone or an alias moved."""
    path = folder / ARTIFACTS / DEPLOY.name
    try:
        return registered_problem(io.parse_record(path, DeployRecord, "deploy"))
    except (MlwError, OSError) as exc:
        return f"its deploy.json is unreadable: {exc}"


STILL_VALID: dict[str, Callable[[Path], str]] = {"deploy": deploy_problem}  # side effects outside the run


class Store:
    """The cache folder of a root: one folder per stored stage, `<stage>/<digest>/`."""

    def __init__(self, root: Path) -> None:
        self.folder = layout.cache_dir(root)

    def load_imports(self) -> None:
        """Learn the import lists earlier processes parsed (an unreadable memo is ignored: it only saves time)."""
        try:
            known = json.loads((self.folder / IMPORTS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(known, dict):
            lists = {k: v for k, v in known.items() if isinstance(v, list) and all(isinstance(n, str) for n in v)}
            _IMPORTS.update({**lists, **_IMPORTS})

    def save_imports(self) -> None:
        """Keep this process's import lists for the next one (written whole: a reader never sees half)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = self.folder / f".{IMPORTS_FILE}.{uuid.uuid4().hex}"
        staging.write_text(json.dumps(_IMPORTS, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(staging, self.folder / IMPORTS_FILE)

    def entry_folder(self, stage: str, digest: str) -> Path:
        """Where a stored stage lives."""
        return self.folder / stage / digest

    def find(self, stage: str, digest: str) -> Entry | None:
        """The stored stage of a key, or None."""
        path = self.entry_folder(stage, digest) / ENTRY_FILE
        try:
            return Entry.model_validate_json(path.read_bytes())
        except (OSError, ValidationError):
            return None

    def entries(self, stage: str) -> list[Entry]:
        """Every stored copy of a stage (unreadable ones left out)."""
        found = [self.find(stage, folder.name) for folder in sorted((self.folder / stage).glob("[0-9a-f]*"))]
        return [entry for entry in found if entry is not None]

    def closest(self, key: Key) -> Key | None:
        """The stored key of the stage that differs from `key` in the fewest names, the newest among equals: the
        stored stage this key missed, which a reason compares with (the one stored last may be another variant's)."""
        stored = [(Key(**entry.key), entry.created) for entry in self.entries(key.stage)]
        ranked = sorted(stored, key=lambda pair: (distance(key, pair[0]), -pair[1]))
        return ranked[0][0] if ranked else None

    def problem(self, entry: Entry) -> str:
        """Why a stored stage cannot be reused ("" when its files are whole and its side effects hold)."""
        folder = self.entry_folder(entry.stage, entry.digest)
        for name, sha in sorted(entry.outputs.items()):
            path = folder / ARTIFACTS / name
            if not path.is_file() or file_sha256(path) != sha:
                return f"the stored {name} of {entry.run_id} was changed or removed"
        if not (folder / entry.notebook).is_file() or not (folder / entry.report).is_file():
            return f"the stored notebook or report of {entry.run_id} was removed"
        check = STILL_VALID.get(entry.stage)
        return check(folder) if check else ""

    def save(self, key: Key, run_id: str, artifacts: Path, outputs: list[str], notebook: Path, report: Path) -> Entry:
        """Store a finished stage (links to its files); a key another run stored first is kept as it is."""
        hashes = {name: file_sha256(artifacts / name) for name in outputs}
        entry = Entry(
            stage=key.stage, digest=key.digest, run_id=run_id, created=time.time(), key=dataclasses.asdict(key),
            outputs=hashes, notebook=notebook.name, report=report.name,
        )
        staging = self.folder / key.stage / f".staging-{uuid.uuid4().hex}"
        for name in outputs:
            link(artifacts / name, staging / ARTIFACTS / name)
        link(notebook, staging / notebook.name)
        link(report, staging / report.name)
        (staging / ENTRY_FILE).write_text(entry.model_dump_json(indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(staging, self.entry_folder(key.stage, key.digest))
        except OSError:  # stored meanwhile by a concurrent run with the same key: the same content
            shutil.rmtree(staging, ignore_errors=True)
        return entry

    def restore(self, entry: Entry, artifacts: Path, executed: Path, reports: Path) -> None:
        """Link a stored stage's artifacts, executed notebook and report into a run."""
        folder = self.entry_folder(entry.stage, entry.digest)
        for name in entry.outputs:
            link(folder / ARTIFACTS / name, artifacts / name)
        link(folder / entry.notebook, executed / entry.notebook)
        link(folder / entry.report, reports / entry.report)

    def decide(self, key: Key, forced: bool, upstream_ran: bool) -> Decision:
        """Reuse the stored stage of this key when it is whole, else run, saying why (compared with the closest)."""
        if forced:
            return Decision(None, "forced")
        found = self.find(key.stage, key.digest)
        if found is not None:
            problem = self.problem(found)
            return Decision(None, problem) if problem else Decision(found, f"reused from {found.run_id}")
        return Decision(None, changes(key, self.closest(key), upstream_ran))
