"""Old bundles keep working: a registry written by the flat-layout code (tests/fixtures/legacy_registry) loads,
predicts exactly what that code predicted, is served over real HTTP, and keeps trusting new bundles."""

from __future__ import annotations

import importlib
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from mlworkflow import io as io_
from mlworkflow import legacy
from mlworkflow.bundle import registry as reg
from mlworkflow.bundle.contract import Validator, to_frame
from mlworkflow.bundle.predlog import PredictionLog, sqlite_url
from mlworkflow.params import DeployParams
from mlworkflow.records import MODEL as MODEL_ARTIFACT
from mlworkflow.service.app import create_app
from tests import servekit as kit

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "legacy_registry"
OLD_NAME = "mlworkflow.preprocess.as_text"
MODEL = FIXTURE / "legacy" / "1" / reg.MODEL_FILE


@pytest.fixture()
def old_registry(tmp_path: Path) -> reg.Registry:
    """A copy of the fixture registry (the fixture itself is never written)."""
    return reg.Registry(shutil.copytree(FIXTURE, tmp_path / "registry"))


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    """25 rows and the probabilities the flat-layout code predicted for them."""
    found: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    return found


def test_the_fixture_records_the_old_names() -> None:
    assert OLD_NAME in sio.get_untrusted_types(file=MODEL)
    assert OLD_NAME in json.loads((FIXTURE / reg.TRUSTED_FILE).read_text(encoding="utf-8"))["trusted"]


def test_every_renamed_name_resolves_to_an_object_today() -> None:
    for old, new in legacy.RENAMED.items():
        module, name = new.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name)), old
        assert new in reg.default_trusted() and new not in legacy.RENAMED  # a rename never leads to another


def test_an_old_bundle_loads_and_predicts_exactly_as_before(old_registry: reg.Registry, expected: dict[str, Any]) -> None:
    model = old_registry.load("legacy@challenger")
    assert model.entry.ref == "legacy@1" and list(model.pipeline.classes_) == expected["classes"]
    checked = Validator(model.contract, "flag").records(expected["rows"])
    probabilities = model.pipeline.predict_proba(to_frame(model.contract, checked.rows))
    assert probabilities.tolist() == expected["probabilities"]  # exact, not approximately


def test_an_old_runs_model_file_reads_and_predicts_exactly_as_before(tmp_path: Path, expected: dict[str, Any]) -> None:
    store = io_.Artifacts(tmp_path)  # an artifact folder of a run the flat-layout code made (--resume reads it)
    shutil.copyfile(MODEL, store.path(MODEL_ARTIFACT))
    pipeline = store.read_model()
    rows = pd.DataFrame(expected["rows"]).astype({"native-country": object})
    assert pipeline.predict_proba(rows).tolist() == expected["probabilities"]


def test_an_old_bundle_is_served_over_http_with_the_same_probabilities(
    old_registry: reg.Registry, expected: dict[str, Any], tmp_path: Path
) -> None:
    model = old_registry.load("legacy@1")
    log_url = sqlite_url(tmp_path / "log.sqlite")
    params = DeployParams(name="legacy", unseen_categories="flag")  # row 5 holds a country unseen in training
    with kit.running(create_app(model, params, log_url)) as url, httpx2.Client(base_url=url, timeout=30) as http:
        answer = http.post("/predict", json=expected["rows"])
        one = http.post("/predict", json=expected["rows"][0])
        info = http.get("/model").json()
    assert answer.status_code == 200, answer.text[:300]
    served = [[p["probabilities"][c] for c in expected["classes"]] for p in answer.json()["predictions"]]
    assert served == expected["probabilities"]
    assert list(one.json()["predictions"][0]["probabilities"].values()) == expected["probabilities"][0]
    assert answer.json()["predictions"][5]["flags"] == ["native-country: unseen category 'England'"]
    assert (info["name"], info["version"], info["packages"]["scikit-learn"]) == ("legacy", "1", "1.9.1")
    assert PredictionLog(log_url).count() == len(expected["rows"]) + 1


def test_the_old_trusted_list_trusts_new_bundles(old_registry: reg.Registry) -> None:
    assert OLD_NAME not in old_registry.trusted_types()
    assert legacy.current_name(OLD_NAME) in old_registry.trusted_types()
    train = kit.adult(300)
    pipeline, spec = kit.fit(train)
    assert legacy.current_name(OLD_NAME) in sio.get_untrusted_types(data=sio.dumps(pipeline))
    entry = old_registry.register("tiny", kit.bundle(pipeline, train, spec))
    loaded = old_registry.load(entry.ref).pipeline
    assert loaded.predict_proba(train).tolist() == pipeline.predict_proba(train).tolist()
    assert OLD_NAME in json.loads((old_registry.root / reg.TRUSTED_FILE).read_text())["trusted"]  # file untouched


def test_an_unknown_untrusted_name_is_still_refused(old_registry: reg.Registry) -> None:
    pipeline, spec = kit.fit(kit.adult(300))
    files = kit.bundle(pipeline, kit.adult(300), spec)
    files[reg.MODEL_FILE] = sio.dumps([np.sqrt, json.dumps])  # json.dumps: trusted by no list
    with pytest.raises(reg.RegistryError, match=r"does not trust: json\.dumps\."):
        old_registry.register("odd", files)
    trusted = old_registry.root / reg.TRUSTED_FILE
    old_list = trusted.read_text(encoding="utf-8")
    trusted.write_text(json.dumps({"trusted": [*json.loads(old_list)["trusted"], "json.dumps"]}))
    entry = old_registry.register("odd", files)
    trusted.write_text(old_list)
    with pytest.raises(reg.RegistryError, match=r"odd@1: Untrusted types found in the file: .*json\.dumps"):
        old_registry.load(entry.ref)


def test_modernize_rewrites_only_the_schema_and_only_when_a_name_moved() -> None:
    old = MODEL.read_bytes()
    new = legacy.modernize(old)
    assert legacy.modernize(new) == new  # today's names: the same bytes back
    assert OLD_NAME not in sio.get_untrusted_types(data=new)
    assert legacy.current_name(OLD_NAME) in sio.get_untrusted_types(data=new)
    with zipfile.ZipFile(MODEL) as before, zipfile.ZipFile(io.BytesIO(new)) as after:
        assert before.namelist() == after.namelist()
        for name in before.namelist():
            if name != legacy.SCHEMA_FILE:
                assert before.read(name) == after.read(name), name


def test_the_hash_check_is_on_the_original_bytes(old_registry: reg.Registry) -> None:
    entry = old_registry.resolve("legacy@1")
    assert old_registry.verify(entry)[reg.MODEL_FILE] == MODEL.read_bytes()
    model = old_registry.root / "legacy" / "1" / reg.MODEL_FILE
    model.write_bytes(legacy.modernize(model.read_bytes()))  # the same model, rewritten on disk: refused
    with pytest.raises(reg.RegistryError, match=r"fails its integrity check: model\.skops"):
        old_registry.load("legacy@1")
