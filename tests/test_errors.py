"""Every toolkit error survives pickle (so one raised in a worker process reaches the user as itself)."""

from __future__ import annotations

import importlib
import pickle
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from joblib import Parallel, delayed

import mlworkflow
from mlworkflow.bundle.contract import Issue
from mlworkflow.errors import MlwError, ParamsError, ParamsIssue
from mlworkflow.params import load_params

ISSUE = ParamsIssue("train.n_iter", "an integer ≥ 1", "0", " Did you mean 'n_iter'?")
CONTRACT_ISSUES = (Issue("number", "expected a number, found 'x'", "age", 2, 3), Issue("required", "missing", "sex"))

# Sample constructor arguments per error class, by class name. A new MlwError subclass needs an entry here.
SAMPLES: dict[str, tuple[Any, ...]] = {
    "ParamsError": ("params/smoke.yaml", [ISSUE, ParamsIssue("data.path", "an existing file", "'x.csv'")]),
    "DataError": ("has no rows", "age", "data/adult.csv"),
    "ArtifactError": ("runs/r/artifacts/train.json", "train"),
    "RecordError": ("runs/r/artifacts/train.json", "train", "best_params", "is missing"),
    "StageError": ("train", 4, "ValueError", "bad input", "reports/r/04_train.html", "mlworkflow run p.yaml --resume r"),
    "ContractError": (CONTRACT_ISSUES,),
    "LogError": ("cannot write 3 prediction(s) to sqlite:///x",),
    "UnknownPrediction": ("no prediction with this id in the log",),
    "DuplicateFeedback": ("this prediction already has feedback",),
    "RegistryError": ("model 'adult' has no version 3",),
    "Unsupported": ("step 'spline' cannot be replayed",),
    "Problem": (422, CONTRACT_ISSUES, {"Retry-After": "1"}),
    "BodyTooLarge": ("the body exceeds the limit of 10 bytes",),
    "BudgetSpent": ("time budget spent",),
    "ExpressionError": ("log(x) +", 9, "an operand expected"),
    "RunStateError": (Path("runs/r/state.json"), "a JSON object", "a list"),
}


def all_modules() -> list[str]:
    """Every module of the package, imported (so every error class is defined)."""
    names = [info.name for info in pkgutil.walk_packages(mlworkflow.__path__, "mlworkflow.")]
    for name in names:
        importlib.import_module(name)
    return names


def subclasses(cls: type[MlwError]) -> Iterator[type[MlwError]]:
    """Every subclass of `cls`, at any depth."""
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


def error_classes() -> dict[str, type[MlwError]]:
    """Every MlwError subclass defined in lib/mlworkflow, by class name."""
    all_modules()
    found = [cls for cls in subclasses(MlwError) if cls.__module__.startswith("mlworkflow.")]
    named = {cls.__name__: cls for cls in found}
    assert len(named) == len(found), "two toolkit errors share a class name; give the table full names"
    return named


CLASSES = error_classes()


def test_every_error_class_has_a_sample() -> None:
    missing = sorted(set(CLASSES) - set(SAMPLES))
    assert not missing, f"add sample constructor arguments to SAMPLES for {missing}"
    assert not sorted(set(SAMPLES) - set(CLASSES)), "SAMPLES names classes that no longer exist"


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_pickle_keeps_type_message_and_fields(name: str, protocol: int) -> None:
    error = CLASSES[name](*SAMPLES[name])
    error.add_note("raised while testing")
    copy = pickle.loads(pickle.dumps(error, protocol=protocol))
    assert type(copy) is type(error)
    assert str(copy) == str(error) and copy.args == error.args
    assert vars(copy) == vars(error)


def test_an_error_raised_in_a_worker_process_reaches_the_parent_as_itself(tmp_path: Path) -> None:
    missing = [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]
    with pytest.raises(ParamsError) as caught:
        Parallel(n_jobs=2, backend="loky")(delayed(load_params)(path) for path in missing)
    assert caught.value.source in missing
    assert caught.value.issues == (ParamsIssue("(file)", "an existing params file", "no file"),)
    assert str(caught.value) == f"{caught.value.source}: key '(file)': expected an existing params file, found no file."


def test_the_package_has_modules_to_scan() -> None:
    assert {"mlworkflow.errors", "mlworkflow.layout", "mlworkflow.params"} <= set(all_modules())
