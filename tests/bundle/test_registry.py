"""Tests of the model registry: versions, hashes, aliases, trusted types, version checks, `promote`."""

from __future__ import annotations

import json
import math
import re
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from mlworkflow import provenance
from mlworkflow.bundle import registry as reg
from mlworkflow.errors import RecordError
from mlworkflow.records import BundleMetadata
from mlworkflow.workflow import cli
from tests import servekit as kit


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, Any, Any]:
    """A tiny fitted pipeline, its training frame and spec."""
    train = kit.adult(300)
    pipeline, spec = kit.fit(train)
    return pipeline, train, spec


@pytest.fixture()
def files(fitted: tuple[Any, Any, Any]) -> dict[str, bytes]:
    return kit.bundle(*fitted)


def test_register_records_hashes_packages_and_numbers_versions(tmp_path: Path, files: dict[str, bytes]) -> None:
    registry = reg.Registry(tmp_path)
    entry = registry.register("tiny", files, {"run": "r1"})
    assert (entry.name, entry.version, entry.ref) == ("tiny", "1", "tiny@1")
    assert entry.files[reg.MODEL_FILE] == reg.sha256_bytes(files[reg.MODEL_FILE])
    assert entry.sha256 == reg.bundle_sha256(entry.files)
    assert entry.packages["scikit-learn"] == provenance.package_versions(reg.PACKAGES)["scikit-learn"]
    assert sorted(p.name for p in (tmp_path / "tiny" / "1").iterdir()) == sorted(reg.BUNDLE_FILES)
    again = registry.register("tiny", files)
    changed = registry.register("tiny", {**files, reg.CARD_FILE: b"# another card\n"})
    assert (again.version, changed.version) == ("1", "2")
    assert [v.version for v in registry.versions("tiny")] == ["1", "2"]
    assert registry.names() == ["tiny"]
    assert list(registry.table("tiny").index) == ["1", "2"]


def test_a_bundle_needs_every_file_and_a_valid_name(tmp_path: Path, files: dict[str, bytes]) -> None:
    registry = reg.Registry(tmp_path)
    with pytest.raises(reg.RegistryError, match=r"missing: card\.md"):
        registry.register("tiny", {k: v for k, v in files.items() if k != reg.CARD_FILE})
    with pytest.raises(reg.RegistryError, match="model name 'bad name'"):
        registry.register("bad name", files)


def test_concurrent_registrations_get_distinct_versions(tmp_path: Path, files: dict[str, bytes]) -> None:
    registry = reg.Registry(tmp_path)
    versions: list[str] = []

    def register(i: int) -> None:
        versions.append(registry.register("tiny", {**files, reg.CARD_FILE: f"# card {i}\n".encode()}).version)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(versions, key=int) == [str(i) for i in range(1, 7)]


def test_aliases_resolve_and_promote_says_what_it_replaced(tmp_path: Path, files: dict[str, bytes]) -> None:
    registry = reg.Registry(tmp_path)
    registry.register("tiny", files)
    registry.register("tiny", {**files, reg.CARD_FILE: b"# v2\n"})
    assert registry.promote("tiny", "1", "champion")[1] is None
    entry, previous = registry.promote("tiny", "2", "champion")
    assert (entry.version, entry.aliases, previous) == ("2", ("champion",), "1")
    registry.promote("tiny", "1", "challenger")
    assert registry.resolve("tiny").version == "2"
    assert registry.resolve("tiny@challenger").version == "1"
    assert registry.resolve("tiny@1").aliases == ("challenger",)


def test_missing_names_versions_and_aliases_are_explained(tmp_path: Path, files: dict[str, bytes]) -> None:
    registry = reg.Registry(tmp_path)
    registry.register("tiny", files)
    with pytest.raises(reg.RegistryError, match=r"no model 'tinny'.*models: tiny.*Did you mean 'tiny'"):
        registry.resolve("tinny@1")
    with pytest.raises(reg.RegistryError, match=r"no version or alias 'champion'; versions: 1\. Promote one, "
                                                r"e\.g\. `mlworkflow promote tiny 1 --alias champion`"):
        registry.resolve("tiny")
    with pytest.raises(reg.RegistryError, match="alias 'champ' is not one of champion, challenger"):
        registry.promote("tiny", "1", "champ")


# --- refusing to load ----------------------------------------------------------------------------------


def test_a_tampered_bundle_is_refused(tmp_path: Path, files: dict[str, bytes]) -> None:
    registry = reg.Registry(tmp_path)
    entry = registry.register("tiny", files)
    model = tmp_path / "tiny" / "1" / reg.MODEL_FILE
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    model.write_bytes(bytes(data))
    with pytest.raises(reg.RegistryError, match=r"tiny@1 fails its integrity check: model.skops has SHA-256 .* "
                                                r"the registry recorded .*Refusing to load it"):
        registry.load(entry.ref)
    with pytest.raises(reg.RegistryError, match="integrity check"):
        registry.promote("tiny", "1", "champion")


def test_a_tampered_contract_or_a_missing_file_is_refused(tmp_path: Path, files: dict[str, bytes]) -> None:
    registry = reg.Registry(tmp_path)
    entry = registry.register("tiny", files)
    contract = tmp_path / "tiny" / "1" / reg.CONTRACT_FILE
    contract.write_text(contract.read_text().replace('"nullable": false', '"nullable": true'))
    with pytest.raises(reg.RegistryError, match=r"contract\.json has SHA-256"):
        registry.load(entry.ref)
    (tmp_path / "tiny" / "1" / reg.CARD_FILE).unlink()
    with pytest.raises(reg.RegistryError, match=r"incomplete: .*card\.md is missing"):
        registry.load(entry.ref)


def untrusted_bundle(fitted: tuple[Any, Any, Any]) -> dict[str, bytes]:
    """A bundle whose pipeline holds a type not on the default trusted list (math.sqrt)."""
    pipeline, train, spec = fitted
    odd = Pipeline([("root", FunctionTransformer(math.sqrt)), *pipeline.steps])
    files = kit.bundle(pipeline, train, spec)
    files[reg.MODEL_FILE] = sio.dumps(odd)
    return files


def test_metadata_with_a_missing_field_is_refused_at_load_naming_the_file_and_field(
    tmp_path: Path, files: dict[str, bytes]
) -> None:
    content = json.loads(files[reg.METADATA_FILE])
    del content["threshold_rule"]
    registry = reg.Registry(tmp_path)
    entry = registry.register("tiny", {**files, reg.METADATA_FILE: json.dumps(content).encode()})
    with pytest.raises(RecordError) as caught:
        registry.load(entry.ref)
    path = tmp_path / "tiny" / "1" / reg.METADATA_FILE
    assert (caught.value.path, caught.value.field, caught.value.producer) == (str(path), "threshold_rule", "deploy")


def test_an_untrusted_type_is_refused_at_registration(tmp_path: Path, fitted: tuple[Any, Any, Any]) -> None:
    with pytest.raises(reg.RegistryError, match=r"holds types the registry does not trust: .*math.sqrt.*trusted_types\.json"):
        reg.Registry(tmp_path).register("odd", untrusted_bundle(fitted))


def test_an_untrusted_type_is_refused_at_load_even_if_the_file_is_intact(tmp_path: Path, fitted: tuple[Any, Any, Any]) -> None:
    registry = reg.Registry(tmp_path)
    files = untrusted_bundle(fitted)
    extra = sorted(set(sio.get_untrusted_types(data=files[reg.MODEL_FILE])) - set(reg.default_trusted()))
    trusted = tmp_path / reg.TRUSTED_FILE
    trusted.parent.mkdir(parents=True, exist_ok=True)
    trusted.write_text(json.dumps({"trusted": [*reg.default_trusted(), *extra]}))
    entry = registry.register("odd", files)
    registry.load(entry.ref)  # trusted: loads
    trusted.write_text(json.dumps({"trusted": list(reg.default_trusted())}))
    with pytest.raises(reg.RegistryError, match=r"odd@1: Untrusted types found in the file: .*math.sqrt.* trusts only the types in"):
        registry.load(entry.ref)


def test_the_trusted_list_comes_from_the_registry_with_defaults(tmp_path: Path) -> None:
    registry = reg.Registry(tmp_path)
    assert registry.trusted_types() == list(reg.default_trusted())
    assert (tmp_path / reg.TRUSTED_FILE).is_file()
    (tmp_path / reg.TRUSTED_FILE).write_text("[]")
    with pytest.raises(reg.RegistryError, match=r"trusted_types.json: expected a JSON object with a 'trusted' list of type names, found \[\]"):
        registry.trusted_types()


def test_another_scikit_learn_version_is_refused_unless_allowed(tmp_path: Path, files: dict[str, bytes]) -> None:
    registry = reg.Registry(tmp_path)
    entry = registry.register("tiny", files)
    index_path = tmp_path / "tiny" / reg.INDEX_FILE
    index = json.loads(index_path.read_text())
    index["versions"]["1"]["packages"]["scikit-learn"] = "0.24.2"
    index_path.write_text(json.dumps(index))
    with pytest.raises(reg.RegistryError, match=r"built with scikit-learn 0\.24\.2, this environment has .*"
                                                r"--allow-version-mismatch"):
        registry.load(entry.ref)
    loaded = registry.load(entry.ref, allow_version_mismatch=True)
    assert loaded.contract.names and isinstance(loaded.metadata, BundleMetadata) and loaded.metadata.task == "binary"


def test_a_loaded_bundle_predicts(tmp_path: Path, files: dict[str, bytes], fitted: tuple[Any, Any, Any]) -> None:
    registry = reg.Registry(tmp_path)
    loaded = registry.load(registry.register("tiny", files).ref)
    pipeline, train, spec = fitted
    X = train[list(spec.features)].head(20)
    assert np.array_equal(loaded.pipeline.predict_proba(X), pipeline.predict_proba(X))
    assert loaded.card.startswith("# Model card")


# --- the command -----------------------------------------------------------------------------------------


def test_promote_command(tmp_path: Path, files: dict[str, bytes], capsys: pytest.CaptureFixture[str]) -> None:
    registry = reg.Registry(tmp_path)
    registry.register("tiny", files)
    registry.register("tiny", {**files, reg.CARD_FILE: b"# v2\n"})
    assert cli.main(["promote", "tiny", "1", "--alias", "champion", "--registry", str(tmp_path)]) == 0
    assert cli.main(["promote", "tiny", "2", "--alias", "champion", "--registry", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["tiny: champion → version 1", "tiny: champion → version 2 (was version 1)"]
    assert cli.main(["promote", "tiny", "9", "--alias", "champion", "--registry", str(tmp_path)]) == 2
    assert "no version or alias '9'" in capsys.readouterr().err


CORRUPT_INDEXES = {  # what a hand edit, a full disk or another tool leaves in registry.json
    "not json": (b'{"name": "tiny", ', "found invalid JSON (Expecting property name enclosed in double quotes"),
    "not utf-8": (b'{"name": "t\xe9"}', "found a byte at offset 11 that is not UTF-8"),
    "a list": (b"[]", "found a JSON list"),
    "no versions": (b'{"name": "tiny", "aliases": {}}', "found at 'versions': Field required"),
    "versions a list": (b'{"name": "tiny", "versions": [], "aliases": {}}', "found at 'versions': Input should be a valid dictionary"),
    "another name": (b'{"name": "other", "versions": {}, "aliases": {}}', "found the name 'other' in the folder of 'tiny'"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT_INDEXES))
def test_a_corrupt_index_is_one_line_naming_the_file_and_its_shape(
    tmp_path: Path, files: dict[str, bytes], case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = reg.Registry(tmp_path)
    registry.register("tiny", files)
    index = tmp_path / "tiny" / reg.INDEX_FILE
    content, found = CORRUPT_INDEXES[case]
    index.write_bytes(content)
    with pytest.raises(reg.RegistryError) as raised:
        registry.load("tiny@1")
    assert str(raised.value).startswith(f"{index}: expected a registry index") and found in str(raised.value)
    assert cli.main(["promote", "tiny", "1", "--alias", "champion", "--registry", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {index}: expected a registry index") and err.count("\n") == 1
    assert index.read_bytes() == content  # promote refused before writing anything


def entry_edit(tmp_path: Path, files: dict[str, bytes], edit: str) -> Path:
    """Register one version, then apply `edit` (Python on `index`) to its registry.json."""
    reg.Registry(tmp_path).register("tiny", files)
    path = tmp_path / "tiny" / reg.INDEX_FILE
    index = json.loads(path.read_text())
    exec(edit, {"index": index})  # the cases are this test module's own literal edits
    path.write_text(json.dumps(index))
    return path


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        ("index['versions']['1']['files']['../../secret'] = '0' * 64", "found at 'versions.1.files.../../secret.[key]': Input should be 'model.skops'"),
        ("index['versions']['1']['sha256'] = 'x'", "found at 'versions.1.sha256': String should match pattern"),
        ("index['versions']['1']['packages'] = None", "found at 'versions.1.packages': Input should be a valid dictionary"),
        ("index['versions']['x/../1'] = index['versions']['1']", "found the version 'x/../1', which is not a number"),
        ("index['versions']['01'] = index['versions']['1']", "found the version '01', which is not a number"),
        ("index['aliases']['champion'] = '7'", "found the alias 'champion' pointing at no version"),
        ("index['aliases']['champion'] = 1", "found at 'aliases.champion': Input should be a valid string"),
    ],
)
def test_an_index_entry_of_the_wrong_shape_is_refused_naming_it(
    tmp_path: Path, files: dict[str, bytes], edit: str, found: str
) -> None:
    path = entry_edit(tmp_path, files, edit)
    with pytest.raises(reg.RegistryError, match=re.escape(f"{path}: expected a registry index")) as raised:
        reg.Registry(tmp_path).resolve("tiny@1")
    assert found in str(raised.value)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_family_registers_under_the_default_trusted_list(tmp_path: Path, task: str) -> None:
    from mlworkflow.core import families
    from mlworkflow.core.features import FeatureSpec

    frame = kit.adult(240)
    targets = {"binary": ("income", ["<=50K", ">50K"]), "multiclass": ("relationship", sorted(frame["relationship"].unique())),
               "regression": ("hours-per-week", [])}
    target, classes = targets[task]
    spec = FeatureSpec(target=target, task=task, classes=tuple(classes), numeric=("age", "education-num"),
                       categorical=("sex",))  # few columns: k-NN then builds a k-d tree
    registry = reg.Registry(tmp_path)
    for family in families.available(task):
        pipeline = families.make_pipeline(spec, family, seed=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline.fit(frame[list(spec.features)], frame[target])
        untrusted = set(sio.get_untrusted_types(data=sio.dumps(pipeline))) - set(registry.trusted_types())
        assert not untrusted, f"{family} ({task}) holds {sorted(untrusted)}"
