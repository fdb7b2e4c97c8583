"""A hostile user's params files and command lines: each is refused with exit 2 and one line per problem naming
the file and the key, before any kernel starts, and nothing under the root changes (tree and bytes compared)."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlworkflow.workflow import cli, runner

VALID = "run:\n  name: hostile\ndata:\n  path: d.csv\n  target: y\n"
Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One hostile input: files to write under the root, the command line, and what the error must say."""

    files: dict[str, bytes]
    argv: tuple[str, ...]
    says: tuple[str, ...]
    setup: Setup | None = None


def finished_run(root: Path) -> None:
    """A finished run `done` under the root, as the runner leaves it."""
    (root / "runs" / "done" / "artifacts").mkdir(parents=True)
    (root / "runs" / "done" / "params.json").write_text('{"run": {"name": "done"}}\n')
    (root / "runs" / "done" / "state.json").write_text('{"done": {}, "status": "ok", "params_source": "p.yaml"}\n')
    (root / "reports" / "done").mkdir(parents=True)
    (root / "reports" / "done" / "index.html").write_text("<main>the finished run's page</main>\n")


def params(text: str | bytes) -> dict[str, bytes]:
    """A params file p.yaml (and the data file it names)."""
    return {"p.yaml": text.encode() if isinstance(text, str) else text, "d.csv": b"a,y\n1,0\n2,1\n"}


def index_file(content: bytes) -> dict[str, bytes]:
    """A registry whose model `tiny` has this registry.json, next to a valid params file."""
    return {**params(VALID), "models/tiny/registry.json": content}


RUN = ("run", "p.yaml")
CASES = {
    # params files that are not what they seem
    "not utf-8": Case(params(VALID.replace("hostile", "caf\xe9").encode("latin-1")), RUN,
                      ("p.yaml: key '(file)': expected UTF-8 text, found byte 0xe9 at offset 16",)),
    "utf-16": Case(params(VALID.encode("utf-16")), RUN, ("expected UTF-8 text, found byte 0xff at offset 0",)),
    "a second data section": Case(params(VALID + "data:\n  path: d.csv\n  target: a\n"), RUN,
                                  ("p.yaml: key 'data': expected each key once, found it twice (lines 3 and 6)",)),
    "a key twice in a section": Case(params(VALID + "  target: a\n"), RUN,
                                     ("key 'data.target': expected each key once, found it twice (lines 5 and 6)",)),
    "a key twice three levels down": Case(
        params(VALID + "train:\n  spaces:\n    forest:\n      max_depth: [2]\n      max_depth: [3]\n"), RUN,
        ("key 'train.spaces.forest.max_depth': expected each key once, found it twice (lines 9 and 10)",)),
    "a key twice in a flow mapping": Case(params(VALID + "evaluate: {metric: f1, metric: roc_auc}\n"), RUN,
                                          ("key 'evaluate.metric': expected each key once",)),
    "an unknown key": Case(params(VALID + "  tagret: y\n"), RUN, ("key 'data.tagret'", "Did you mean 'target'?")),
    "an unknown section": Case(params(VALID + "trian: {}\n"), RUN, ("key 'trian'", "Did you mean 'train'?")),
    "a wrong type": Case(params(VALID.replace("name: hostile", "name: hostile\n  seed: many")), RUN,
                         ("key 'run.seed': expected a valid integer", "found 'many'")),
    "a run name that is a path": Case(params(VALID.replace("hostile", "../escaped")), RUN, ("key 'run.name'",)),
    "broken YAML": Case(params("run: [hostile\n"), RUN, ("key '(file)': expected valid YAML", "at line 2, column 1")),
    "a NUL byte": Case(params("run:\n  name: x\x00\n"), RUN, ("unacceptable character #x0000",)),
    "a python object tag": Case(params("!!python/object/apply:os.system ['touch pwned']\n"), RUN,
                                ("expected valid YAML, found could not determine a constructor",)),
    "a list, not sections": Case(params("- run\n- data\n"), RUN, ("expected a mapping of sections, found a list",)),
    "a recursive alias": Case(params("run: &a [*a]\ndata: {path: d.csv, target: y}\n"), RUN, ("key 'run': expected",)),
    # command-line arguments that would become paths
    "run id escaping the root": Case(params(VALID), (*RUN, "--run-id", "../../escaped"),
                                     ("command line: key '--run-id': expected a run id", "'../../escaped'")),
    "run id absolute": Case(params(VALID), (*RUN, "--run-id", "/tmp/elsewhere"), ("key '--run-id'",)),
    "run id hidden": Case(params(VALID), (*RUN, "--run-id", ".."), ("key '--run-id'",)),
    "run id of a finished run": Case(params(VALID), (*RUN, "--run-id", "done"),
                                     ("key '--run-id': expected an id no run under", "'done', an existing run's id"),
                                     finished_run),
    "resume escaping the root": Case(params(VALID), (*RUN, "--resume", "../done"), ("key '--resume'",), finished_run),
    "resume of no run": Case(params(VALID), (*RUN, "--resume", "ghost"), ("cannot resume run 'ghost'",)),
    "resume of a corrupt state": Case(
        {**params(VALID), "runs/bad/state.json": b'{"done": [1]}'}, (*RUN, "--resume", "bad"),
        ("runs/bad/state.json: expected a run state", "'done': Input should be a valid dictionary")),
    "monitor run id": Case(params(VALID), ("monitor", "p.yaml", "--run-id", "a/b"), ("key '--run-id'",)),
    "monitor run id of a finished run": Case(params(VALID), ("monitor", "p.yaml", "--run-id", "done"),
                                             ("an existing run's id",), finished_run),
    "retrain run id": Case({**params(VALID), "new.csv": b"a,y\n1,0\n"},
                           ("retrain", "p.yaml", "--with", "new.csv", "--run-id", "../x"), ("key '--run-id'",)),
    "export escaping": Case(params(VALID), ("export", "../../etc"), ("command line: key 'RUN'",)),
    "compare escaping": Case(params(VALID), ("compare", "done", "../x"), ("key 'RUN'", "'../x'"), finished_run),
    "an override with a duplicate key": Case(params(VALID), (*RUN, "--set", "train.spaces={forest: {}, forest: {}}"),
                                             ("key 'train.spaces.forest': expected each key once (set by --set)",)),
    "an override of an unknown key": Case(params(VALID), (*RUN, "--set", "data.tagret=y"), ("(set by --set)",)),
    "an override without a value": Case(params(VALID), (*RUN, "--set", "data.target"), ("key '--set'",)),
    "an unknown stage": Case(params(VALID), (*RUN, "--stages", "dta"), ("Did you mean 'data'?",)),
    # registry files that are corrupt or the wrong shape
    "registry.json truncated at promote": Case(
        index_file(b'{"name": "tiny", "versions": {'), ("promote", "tiny", "1", "--alias", "champion"),
        ("models/tiny/registry.json: expected a registry index", "found invalid JSON")),
    "registry.json a list at serve": Case(
        index_file(b"[]"), ("serve", "p.yaml", "--model", "tiny@1"), ("registry.json: expected", "found a JSON list")),
    "registry.json versions a list at serve": Case(
        index_file(b'{"name": "tiny", "versions": [], "aliases": {}}'), ("serve", "p.yaml", "--model", "tiny"),
        ("found at 'versions': Input should be a valid dictionary",)),
    "registry.json a file outside the bundle": Case(
        index_file(json.dumps({"name": "tiny", "aliases": {}, "versions": {"1": {
            "sha256": "0" * 64, "files": {"../../p.yaml": "0" * 64}, "packages": {}, "created": "now"}}}).encode()),
        ("predict", "p.yaml", "--model", "tiny@1", "--input", "d.csv", "--output", "out.csv"),
        ("found at 'versions.1.files.../../p.yaml.[key]'",)),
    "registry.json a version that is a path": Case(
        index_file(json.dumps({"name": "tiny", "aliases": {"champion": "../1"}, "versions": {"../1": {
            "sha256": "0" * 64, "files": {}, "packages": {}, "created": "now"}}}).encode()),
        ("promote", "tiny", "champion", "--alias", "challenger"), ("found the version '../1', which is not a number",)),
    "registry.json not utf-8": Case(index_file(b'{"name": "t\xe9"}'), ("promote", "tiny", "1", "--alias", "champion"),
                                    ("found a byte at offset 11 that is not UTF-8",)),
    "a model name that is a path": Case(params(VALID), ("promote", "../tiny", "1", "--alias", "champion"),
                                        ("model name '../tiny' is not valid",)),
}


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under the root with its bytes (None for a folder)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


@pytest.fixture(autouse=True)
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if a kernel starts; keep the CLI's SIGTERM handler out of the test process."""

    def refuse(_self: runner.KernelSession) -> float:
        raise AssertionError("a kernel started")

    monkeypatch.setattr(runner.KernelSession, "start", refuse)
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_input_is_refused_in_one_line_and_changes_nothing(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    root = tmp_path / "root"
    for relative, content in case.files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    if case.setup:
        case.setup(root)
    before = tree(root)
    monkeypatch.chdir(root)
    code = cli.main([*case.argv, *(("--root", str(root)) if case.argv[0] in ("run", "monitor", "retrain",
                                                                            "export", "compare") else ())])
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.splitlines()
    assert lines and lines[0].startswith("error: ") and "Traceback" not in captured.err
    assert all(line.startswith(("error: ", "p.yaml: ")) for line in lines), lines  # one line per problem
    for fragment in case.says:
        assert fragment in captured.err, (fragment, captured.err)
    assert tree(root) == before
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()
