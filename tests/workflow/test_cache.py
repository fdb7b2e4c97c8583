"""The stage cache: what changes a stage's key (each input kind), the lib import graph, the reasons, the store."""

from __future__ import annotations

import ast
import dataclasses
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mlworkflow.params import Params, load_params
from mlworkflow.workflow import cache

EVALUATE_CODE = "%matplotlib inline\nfrom mlworkflow.stages import evaluate\nfrom mlworkflow.views import notebook"


@pytest.fixture(scope="module")
def params(root: Path) -> Params:
    return load_params(root / "params" / "smoke.yaml")


def write_notebook(path: Path, code: str, title: str = "# evaluate", output: str = "") -> Path:
    """A one-stage notebook: a title, one code cell (with an output when given)."""
    cell = new_code_cell(code)
    if output:
        cell.outputs = [new_output("stream", name="stdout", text=output)]
    nbformat.write(new_notebook(cells=[new_markdown_cell(title), cell]), path)
    return path


def lib_tree(folder: Path) -> Path:
    """A temporary copy-shaped package: evaluate imports core.metrics inside a function; drift is unrelated."""
    package = folder / "mlworkflow"
    files = {
        "__init__.py": "",
        "stages/__init__.py": "",
        "stages/evaluate.py": "def score():\n    from mlworkflow.core import metrics\n    return metrics\n",
        "core/__init__.py": "",
        "core/metrics.py": "from . import bootstrap\nimport numpy\n",
        "core/bootstrap.py": "X = 1\n",
        "core/drift.py": "Y = 2\n",
        "views/__init__.py": "",
        "views/notebook.py": "from mlworkflow.records import RAW\n",
        "records.py": "RAW = 'raw'\n",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text, encoding="utf-8")
    return package


def key_for(params: Params, notebook: Path, lib: Path, stage: str = "evaluate", **inputs: str) -> cache.Key:
    return cache.stage_key(stage, params, notebook, inputs, notebook.parent, lib)


def imports_of(notebook: Path) -> list[str]:
    return cache.notebook_imports(notebook, cache.notebook_digest(notebook))


def test_the_import_graph_follows_function_level_and_relative_imports_and_parent_packages(tmp_path: Path) -> None:
    lib = lib_tree(tmp_path)
    found = cache.lib_sources(imports_of(write_notebook(tmp_path / "05.ipynb", EVALUATE_CODE)), lib)
    assert sorted(found) == [
        "lib/mlworkflow/__init__.py", "lib/mlworkflow/core/__init__.py", "lib/mlworkflow/core/bootstrap.py",
        "lib/mlworkflow/core/metrics.py", "lib/mlworkflow/records.py", "lib/mlworkflow/stages/__init__.py",
        "lib/mlworkflow/stages/evaluate.py", "lib/mlworkflow/views/__init__.py", "lib/mlworkflow/views/notebook.py",
    ]  # drift.py is not imported; numpy is not the package's


def test_the_real_notebooks_import_their_stage_module_and_not_the_others(root: Path) -> None:
    found = cache.lib_sources(imports_of(root / "notebooks" / "07_monitor.ipynb"))
    assert "lib/mlworkflow/stages/monitor.py" in found and "lib/mlworkflow/core/drift.py" in found
    assert "lib/mlworkflow/stages/evaluate.py" not in found and "lib/mlworkflow/workflow/runner.py" not in found


def test_a_lib_edit_changes_only_the_keys_of_the_notebooks_importing_it(params: Params, tmp_path: Path) -> None:
    lib = lib_tree(tmp_path / "lib")
    evaluating = write_notebook(tmp_path / "05.ipynb", EVALUATE_CODE)
    other = write_notebook(tmp_path / "07.ipynb", "from mlworkflow.core import drift", "# monitor")
    before = key_for(params, evaluating, lib), key_for(params, other, lib, "monitor")
    (lib / "core" / "bootstrap.py").write_text("X = 2  # fixed\n", encoding="utf-8")
    after = key_for(params, evaluating, lib), key_for(params, other, lib, "monitor")
    assert before[0].digest != after[0].digest and before[1].digest == after[1].digest
    assert cache.changes(after[0], before[0], False) == "lib/mlworkflow/core/bootstrap.py changed"


def test_the_notebook_key_is_its_cells_not_their_outputs(params: Params, tmp_path: Path) -> None:
    lib = lib_tree(tmp_path / "lib")
    path = tmp_path / "05.ipynb"
    first = key_for(params, write_notebook(path, EVALUATE_CODE), lib)
    assert key_for(params, write_notebook(path, EVALUATE_CODE, output="figures"), lib) == first
    retitled = key_for(params, write_notebook(path, EVALUATE_CODE, title="# Evaluate, reworded"), lib)
    recoded = key_for(params, write_notebook(path, EVALUATE_CODE + "\nx = 1"), lib)
    assert first.digest != retitled.digest != recoded.digest
    assert cache.changes(recoded, first, False) == "notebook changed"


def test_params_keys_seed_and_excluded_keys(params: Params, tmp_path: Path) -> None:
    lib = lib_tree(tmp_path / "lib")
    notebook = write_notebook(tmp_path / "05.ipynb", EVALUATE_CODE)
    first = key_for(params, notebook, lib)
    changed = params.model_copy(update={"evaluate": params.evaluate.model_copy(update={"bootstrap": 50})})
    assert cache.changes(key_for(changed, notebook, lib), first, False) == "params evaluate.bootstrap changed"
    assert key_for(changed, notebook, lib, "preprocess").params == key_for(params, notebook, lib, "preprocess").params
    reseeded = params.model_copy(update={"run": params.run.model_copy(update={"seed": 7})})
    assert cache.changes(key_for(reseeded, notebook, lib), first, False) == "params run.seed changed"
    renamed = params.model_copy(update={"run": params.run.model_copy(update={"name": "other"})})
    faster = params.model_copy(update={"evaluate": params.evaluate.model_copy(update={"n_jobs": 2})})
    assert key_for(renamed, notebook, lib) == first == key_for(faster, notebook, lib)  # how fast, not what


def test_input_artifacts_change_the_key_and_say_whether_upstream_re_ran(params: Params, tmp_path: Path) -> None:
    lib = lib_tree(tmp_path / "lib")
    notebook = write_notebook(tmp_path / "05.ipynb", EVALUATE_CODE)
    first = key_for(params, notebook, lib, **{"train.json": "a" * 64})
    second = key_for(params, notebook, lib, **{"train.json": "b" * 64})
    assert first.digest != second.digest
    assert cache.changes(second, first, True) == "upstream stage re-ran"
    assert cache.changes(second, first, False) == "input artifacts train.json changed"


def test_the_data_source_bytes_are_part_of_the_data_key(params: Params, tmp_path: Path) -> None:
    lib = lib_tree(tmp_path / "lib")
    notebook = write_notebook(tmp_path / "01.ipynb", "from mlworkflow.stages import data", "# data")
    source = tmp_path / "rows.csv"
    source.write_text("a,b\n1,2\n", encoding="utf-8")
    local = params.model_copy(update={"data": params.data.model_copy(update={"path": str(source)})})
    first = key_for(local, notebook, lib, "data")
    source.write_text("a,b\n1,3\n", encoding="utf-8")
    os.utime(source, ns=(1, 1))  # a different modification time too, as any edit leaves
    second = key_for(local, notebook, lib, "data")
    assert first.external != second.external
    assert cache.changes(second, first, False) == f"data changed (sha256 {second.external['data'][:12]}…)"


def test_the_monitor_key_has_its_batch_file_and_a_log_source_is_never_reused(params: Params, tmp_path: Path) -> None:
    batch = tmp_path / "batch.csv"
    batch.write_text("a\n1\n", encoding="utf-8")
    section = params.monitor.model_copy(update={"current": str(batch)})
    assert cache.monitor_sources(section, tmp_path) == {"current": cache.file_sha256(batch)}
    watched = cache.monitor_sources(section.model_copy(update={"model": "adult@champion"}), tmp_path)
    assert watched["model"].startswith("unresolved: no model 'adult' in the registry")
    from_log = params.model_copy(update={"monitor": params.monitor.model_copy(update={"current": None, "log_url": "sqlite:///x"})})
    assert cache.never_reused("monitor", from_log) == "it reads the prediction log, which grows while the service runs"
    assert cache.never_reused("monitor", params) == "" and cache.never_reused("data", from_log) == ""


def test_package_versions_are_the_installed_distributions(tmp_path: Path) -> None:
    (tmp_path / "numpy-2.0.0.dist-info").mkdir()
    before = cache.packages_digest([str(tmp_path)])
    (tmp_path / "numpy-2.0.0.dist-info").rename(tmp_path / "numpy-2.1.0.dist-info")
    assert cache.packages_digest([str(tmp_path)]) != before
    first = cache.Key("train", "n", {}, {}, {}, before, {})
    assert cache.changes(dataclasses.replace(first, packages="other"), first, False) == "package versions changed"
    assert cache.changes(first, None, False) == "first run"


def test_several_changes_are_listed_together(params: Params) -> None:
    first = cache.Key("evaluate", "n", {"evaluate.a": 1, "evaluate.b": 1, "evaluate.c": 1}, {}, {}, "p", {})
    second = dataclasses.replace(first, notebook="m", params={"evaluate.a": 2, "evaluate.b": 2, "evaluate.c": 2})
    assert cache.changes(second, first, False) == "params evaluate.a, evaluate.b and 1 more changed; notebook changed"


def stored_stage(tmp_path: Path, run_id: str = "first", key: cache.Key | None = None) -> tuple[cache.Store, cache.Key, Path]:
    """A stage that wrote one artifact, with its notebook and report, stored under tmp_path's cache."""
    run = tmp_path / "runs" / run_id
    (run / "artifacts").mkdir(parents=True)
    (run / "artifacts" / "evaluate.json").write_text("{}\n", encoding="utf-8")
    (run / "05_evaluate.ipynb").write_text("{}", encoding="utf-8")
    (run / "05_evaluate.html").write_text("<html></html>", encoding="utf-8")
    store, key = cache.Store(tmp_path), key or cache.Key("evaluate", "n", {}, {}, {}, "p", {})
    store.save(key, run_id, run / "artifacts", ["evaluate.json"], run / "05_evaluate.ipynb", run / "05_evaluate.html")
    return store, key, run


def test_a_stored_stage_is_reused_by_links_and_outlives_its_run(tmp_path: Path) -> None:
    import shutil

    store, key, run = stored_stage(tmp_path)
    decision = store.decide(key, forced=False, upstream_ran=False)
    assert decision.entry is not None and decision.reason == "reused from first"
    shutil.rmtree(run)  # deleting the run that produced it leaves the store whole
    second = tmp_path / "runs" / "second"
    store.restore(decision.entry, second / "artifacts", second / "notebooks", tmp_path / "reports" / "second")
    assert (second / "artifacts" / "evaluate.json").read_text(encoding="utf-8") == "{}\n"
    assert (second / "notebooks" / "05_evaluate.ipynb").is_file()
    assert (tmp_path / "reports" / "second" / "05_evaluate.html").stat().st_nlink == 2  # the store's and this run's
    assert store.decide(key, forced=True, upstream_ran=False) == cache.Decision(None, "forced")


def test_a_stored_file_changed_in_place_is_not_reused(tmp_path: Path) -> None:
    store, key, run = stored_stage(tmp_path)
    (run / "artifacts" / "evaluate.json").write_text('{"edited": 1}\n', encoding="utf-8")  # the same inode
    assert store.decide(key, forced=False, upstream_ran=False) == cache.Decision(
        None, "the stored evaluate.json of first was changed or removed"
    )


def test_the_same_key_stored_twice_keeps_the_first(tmp_path: Path) -> None:
    store, key, _run = stored_stage(tmp_path)
    stored_stage(tmp_path, "concurrent")
    found = store.find("evaluate", key.digest)
    assert found is not None and found.run_id == "first"
    assert [p.name for p in (tmp_path / "cache" / "evaluate").iterdir()] == [key.digest]  # no staging left


def test_a_changed_stage_is_compared_with_the_stored_stage_its_key_missed(tmp_path: Path) -> None:
    module = "lib/mlworkflow/stages/evaluate.py"
    store, key, _run = stored_stage(tmp_path, key=cache.Key("evaluate", "n", {"evaluate.bootstrap": 50}, {}, {module: "a"}, "p", {}))
    changed = dataclasses.replace(key, params={"evaluate.bootstrap": 60})
    assert store.decide(changed, forced=False, upstream_ran=False).reason == "params evaluate.bootstrap changed"
    other = dataclasses.replace(key, params={"evaluate.bootstrap": 100})  # another variant, stored last
    stored_stage(tmp_path, "variant", other)
    edited = dataclasses.replace(key, lib={module: "b"})
    assert store.decide(edited, forced=False, upstream_ran=False).reason == f"{module} changed"  # not the variant's params
    assert store.decide(dataclasses.replace(other, lib={module: "b"}), False, False).reason == f"{module} changed"


def refuse_parsing(source: str | bytes, filename: str = "<unknown>") -> object:
    raise AssertionError(f"{filename} parsed again")


def test_a_new_process_reads_the_import_lists_it_stored_instead_of_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = lib_tree(tmp_path / "lib")
    notebook = write_notebook(tmp_path / "05.ipynb", EVALUATE_CODE)
    first = cache.lib_sources(imports_of(notebook), lib)
    store = cache.Store(tmp_path)
    store.save_imports()
    monkeypatch.setattr(cache, "_MODULES", {})  # as a new process starts
    monkeypatch.setattr(cache, "_IMPORTS", {})
    monkeypatch.setattr(cache, "_CODE", {})
    store.load_imports()
    monkeypatch.setattr(ast, "parse", refuse_parsing)  # neither a module nor the notebook (nor IPython's transform)
    assert cache.lib_sources(imports_of(notebook), lib) == first
    (tmp_path / "cache" / "imports.json").write_text("[1, 2]", encoding="utf-8")
    store.load_imports()  # an unreadable memo only costs time
