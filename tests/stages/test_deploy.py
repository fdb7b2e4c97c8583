"""Tests of stage `deploy`: the bundle's parts, the model card, registering, and the in-process trial."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlworkflow import io
from mlworkflow.bundle.contract import Contract
from mlworkflow.bundle.registry import CONTRACT_FILE, METADATA_FILE, Registry, registered_problem
from mlworkflow.errors import ArtifactError
from mlworkflow.params import DeployParams
from mlworkflow.records import BundleMetadata, DataRecord, EvaluateRecord, PreprocessRecord, TrainRecord
from mlworkflow.stages import deploy
from mlworkflow.views import deploy as view
from tests import recordkit
from tests import servekit as kit

EVALUATION = recordkit.record(
    EvaluateRecord, metric="roc_auc", threshold=0.41, threshold_rule="max_f1", model="logistic",
    metrics={"accuracy": {"value": 0.85, "low": 0.82, "high": 0.88}, "roc_auc": {"value": 0.9, "low": 0.87, "high": 0.93}},
    baseline={"accuracy": {"value": 0.76, "low": 0.76, "high": 0.76}, "roc_auc": {"value": 0.5, "low": 0.5, "high": 0.5}},
    groups=[
        {"column": "(all)", "group": "(all)", "n": 400, "roc_auc": 0.9, "accuracy": 0.85, "gap": 0.0, "flag": ""},
        {"column": "sex", "group": "Female", "n": 125, "roc_auc": 0.93, "accuracy": 0.9, "gap": 0.03, "flag": "recall -0.19"},
        {"column": "race", "group": "Other", "n": 6, "roc_auc": 1.0, "accuracy": 0.83, "gap": 0.1,
         "flag": "n < 30: too few rows to judge"},
    ],
)
PREPROCESSED = recordkit.record(
    PreprocessRecord, target="income", task="binary", classes=["<=50K", ">50K"], positive_class=">50K",
    numeric=["age", "hours-per-week"], categorical=["sex"], rows={"train": 1600, "test": 400}, missing_markers=[],
)
DATA = recordkit.record(DataRecord, source="/somewhere/adult_train.csv.gz", sha256="ab" * 32, rows=2000, source_rows=32561)
TRAINED = recordkit.record(TrainRecord, family="logistic", best_params={"model__C": 1.0})
LEGACY_BUNDLE = Path(__file__).parents[1] / "fixtures" / "legacy_registry" / "legacy" / "1"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> kit.Tiny:
    return kit.tiny_model(tmp_path_factory.mktemp("registry"))


def small_train() -> pd.DataFrame:
    return pd.DataFrame({"age": [20, 40], "hours-per-week": [10, 50], "sex": ["Male", None], "income": ["<=50K", ">50K"]})


def test_contract_is_learned_from_the_training_split() -> None:
    contract = deploy.learn(small_train(), PREPROCESSED.model_copy(update={"missing_markers": ["?"]}))
    assert contract.names == ("age", "hours-per-week", "sex") and contract.missing_markers == ("?",)


def test_the_contract_keeps_the_reader_options_the_data_stage_used() -> None:
    from mlworkflow.params import ReadOptions
    from mlworkflow.records import ReadReport

    read = ReadOptions(sep=";", decimal=",")
    contract = deploy.learn(small_train(), PREPROCESSED, ReadReport(format="csv", sep=";", options=read))
    assert contract.read == read and deploy.learn(small_train(), PREPROCESSED).read == ReadOptions()


def test_metadata_carries_threshold_metrics_and_groups() -> None:
    meta = deploy.metadata("adult", PREPROCESSED, TRAINED, EVALUATION)
    assert (meta.threshold, meta.task, meta.positive_class, meta.family) == (0.41, "binary", ">50K", "logistic")
    assert list(meta.metrics) == ["roc_auc", "accuracy"]  # the deciding metric first
    assert meta.metrics["roc_auc"].model_dump() == {"value": 0.9, "low": 0.87, "high": 0.93, "baseline": 0.5}
    assert meta.groups == EVALUATION.groups and meta.best_params == {"model__C": 1.0}


def test_metadata_json_is_written_byte_for_byte_as_by_the_code_before_typing() -> None:
    written = (LEGACY_BUNDLE / METADATA_FILE).read_bytes()
    meta = BundleMetadata.model_validate_json(written)
    contract = Contract.model_validate_json((LEGACY_BUNDLE / CONTRACT_FILE).read_bytes())
    assert deploy.bundle_files(b"", meta, contract, "")[METADATA_FILE] == written


def test_model_card_has_every_section() -> None:
    meta = deploy.metadata("adult", PREPROCESSED, TRAINED, EVALUATION)
    contract = deploy.learn(small_train(), PREPROCESSED)
    params = DeployParams(name="adult", intended_use="Demonstrations only.", limitations=("Old data.",))
    card = deploy.model_card(meta, DATA, PREPROCESSED, contract, params)
    for heading in ("# Model card: adult", "## Intended use", "## Data", "## Metrics", "## Results per group", "## Limitations"):
        assert heading in card
    assert "Decision threshold 0.410 (the threshold with the highest F1)" in card and "Demonstrations only." in card
    assert "with a Logistic regression pipeline" in card and "`logistic`" not in card
    assert "| **ROC AUC** | 0.900 | [0.870, 0.930] | 0.500 |" in card and "roc_auc" not in card
    assert "`adult_train.csv.gz`" in card and "/somewhere" not in card and "(a sample of 32,561)" in card
    assert "- Old data." in card
    assert "differs by group beyond the tolerance for sex = Female: " in card
    assert "Too few test rows to judge: race = Other" in card


def test_card_of_groups_judged_with_intervals_lists_only_the_flagged_ones() -> None:
    def judged(group: str, n: int, verdict: str, flag: str) -> dict[str, object]:
        return {"column": "sex", "group": group, "n": n, "verdict": verdict, "flag": flag, "roc_auc": 0.9,
                "roc_auc_low": 0.85, "roc_auc_high": 0.95, "selection_rate": 0.2, "selection_rate_low": 0.15,
                "selection_rate_high": 0.25, "base_rate": 0.24, "base_rate_low": 0.2, "base_rate_high": 0.28}

    groups = [judged("(all)", 400, "", ""), judged("Female", 125, "flagged", "selection rate -12.1 pts [-17.7, -6.5]"),
              judged("Male", 270, "not clear", ""), judged("Other", 5, "too few rows", "n < 30: too few rows to judge")]
    meta = deploy.metadata("adult", PREPROCESSED, TRAINED, EVALUATION.model_copy(update={"groups": groups}))
    card = deploy.model_card(meta, DATA, PREPROCESSED, deploy.learn(small_train(), PREPROCESSED), DeployParams())
    assert "| sex | Female | 125 | 0.900 [0.850, 0.950] | 20.0% [15.0%, 25.0%] | 24.0% [20.0%, 28.0%] | flagged |" in card
    assert "| column | group | rows | ROC AUC | Selection rate | Base rate | verdict |" in card
    assert "differs by group beyond the tolerance for sex = Female: selection rate -12.1 pts [-17.7, -6.5]." in card
    assert "| all test rows |  | 400 |" in card and "(all)" not in card
    assert "sex=Male" not in card.split("## Limitations")[1] and "Too few test rows to judge: sex = Other" in card


def test_card_without_groups_says_so() -> None:
    meta = deploy.metadata("adult", PREPROCESSED, TRAINED, EVALUATION.model_copy(update={"groups": []}))
    card = deploy.model_card(meta, DATA, PREPROCESSED, deploy.learn(small_train(), PREPROCESSED), DeployParams())
    assert "No group columns were evaluated" in card


def test_read_model_needs_the_train_stage(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="run stage 'train' first"):
        deploy.read_model(io.Artifacts(tmp_path))


def test_register_gives_the_alias_and_is_idempotent(tmp_path: Path, tiny: kit.Tiny) -> None:
    import skops.io as sio

    files = deploy.bundle_files(sio.dumps(tiny.model.pipeline), tiny.model.metadata, tiny.contract, tiny.model.card)
    registry = Registry(tmp_path / "models")
    params = DeployParams(name="adult", alias="challenger")
    entry = deploy.register(registry, params, files, {"artifacts": "x"})
    again = deploy.register(registry, params, files, {"artifacts": "x"})
    assert (entry.ref, entry.aliases, again.version) == ("adult@1", ("challenger",), "1")
    assert deploy.register(registry, DeployParams(name="adult", alias=None), files, {}).aliases == ("challenger",)
    loaded = registry.load(entry.ref)
    table = view.bundle_table(entry, loaded)
    assert table.loc["aliases", "bundle"] == "challenger"
    assert table.loc["inputs in the contract", "bundle"] == len(tiny.contract.columns)
    content = deploy.record(entry, registry, "on for up to 32 rows", loaded.contract)
    assert content.ref == "adult@1" and content.headline["model"] == "adult@1"
    assert set(content.headline) == {"model", "aliases", "inputs", "fast path", "sha256"}
    assert set(view.stable_headline(content).index) == {"aliases", "inputs", "fast path"}


def test_a_deploy_record_stands_while_its_version_and_aliases_are_as_recorded(tmp_path: Path, tiny: kit.Tiny) -> None:
    import skops.io as sio

    files = deploy.bundle_files(sio.dumps(tiny.model.pipeline), tiny.model.metadata, tiny.contract, tiny.model.card)
    registry = Registry(tmp_path / "models")
    entry = deploy.register(registry, DeployParams(name="adult", alias="challenger"), files, {})
    content = deploy.record(entry, registry, "on", tiny.contract)
    assert registered_problem(content) == ""
    other = {**files, "card.md": b"another card\n"}
    deploy.register(registry, DeployParams(name="adult", alias="challenger"), other, {})
    assert registered_problem(content) == "alias challenger no longer points at adult@1"
    gone = content.model_copy(update={"registry": str(tmp_path / "elsewhere")})
    assert registered_problem(gone) == f"registry version adult@1 is gone from {tmp_path / 'elsewhere'}"
    replaced = content.model_copy(update={"sha256": "0" * 64, "aliases": []})
    assert registered_problem(replaced) == "registry version adult@1 holds another bundle"


def test_valid_records_skips_rows_that_break_the_contract(tiny: kit.Tiny) -> None:
    rows = tiny.rows.copy()
    rows.loc[0, "sex"] = "Other"
    records = deploy.valid_records(rows, tiny.contract, 3)
    assert len(records) == 3 and all(r["sex"] in ("Female", "Male") for r in records)
    assert records[0] != deploy.json_value(rows.iloc[0].to_dict())
