"""Stage `monitor`: CBPE, decay rules, the verdict, reading current data, and the acceptance cases on real data."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import pandas as pd
import pytest

from mlworkflow import io
from mlworkflow.bundle.contract import Validator, learn_contract
from mlworkflow.bundle.predlog import PredictionLog, read_window, sqlite_url
from mlworkflow.bundle.registry import Registry
from mlworkflow.core import families, scoring
from mlworkflow.core.bootstrap import Interval
from mlworkflow.core.scoring import Scored
from mlworkflow.core.target import Target
from mlworkflow.errors import DataError, ParamsError
from mlworkflow.params import MonitorParams, PreprocessParams, load_params
from mlworkflow.records import BundleMetadata
from mlworkflow.service.app import create_app
from mlworkflow.stages import deploy, monitor, preprocess
from mlworkflow.stages import monitor_sources as sources
from mlworkflow.views import monitor as view
from mlworkflow.workflow import cli
from tests import servekit as kit

ROOT = Path(__file__).resolve().parents[2]
BINARY = Target("y", "binary", ("no", "yes"), "yes")


# --- CBPE ------------------------------------------------------------------------------------------------


def test_cbpe_matches_realized_metrics_when_probabilities_are_calibrated() -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(2, 3, 40_000)
    truth = (rng.random(p.size) < p).astype(float)
    scored = Scored("binary", BINARY.labels, truth, p, (p >= 0.5).astype(float), True, 0.5)
    real, guess = scoring.point_metrics(scored), monitor.estimated(p, BINARY, 0.5)
    for name in ("accuracy", "roc_auc", "f1", "brier"):
        assert guess[name] == pytest.approx(real[name], abs=0.01), name


def test_cbpe_multiclass_expected_accuracy() -> None:
    rng = np.random.default_rng(1)
    proba = rng.dirichlet([1.0, 2.0, 3.0], 30_000)
    truth = np.array([rng.choice(3, p=row) for row in proba], dtype=float)
    target = Target("y", "multiclass", ("a", "b", "c"), None)
    scored = Scored("multiclass", target.labels, truth, proba, proba.argmax(axis=1).astype(float), True, None)
    guess = monitor.estimated(proba, target, None)
    assert guess["accuracy"] == pytest.approx(scoring.point_metrics(scored)["accuracy"], abs=0.01)
    assert guess["accuracy"] == pytest.approx(proba.max(axis=1).mean())


def test_cbpe_rows_weigh_each_row_once_in_total() -> None:
    scored, weights = monitor.expected_rows(np.array([0.2, 0.9]), BINARY, 0.5)
    assert scored.truth.tolist() == [1, 1, 0, 0] and weights.tolist() == pytest.approx([0.2, 0.9, 0.8, 0.1])


# --- decay and verdict ------------------------------------------------------------------------------------


def row(value: float, low: float, high: float, labelled: int = 1000) -> pd.Series:
    return pd.Series({"realized": value, "low": low, "high": high, "labelled": labelled})


EXPECTED = Interval(0.80, 0.78, 0.82)


@pytest.mark.parametrize(
    ("value", "low", "high", "status", "words"),
    [
        (0.64, 0.62, 0.66, "RETRAIN", "decayed"),
        (0.74, 0.60, 0.85, "WARN", "too few labels"),
        (0.77, 0.765, 0.775, "WARN", "within the 5% tolerance"),
        (0.79, 0.77, 0.81, "OK", "holds"),
    ],
)
def test_realized_decay_needs_both_the_tolerance_and_the_intervals(
    value: float, low: float, high: float, status: str, words: str
) -> None:
    found = monitor.realized_decay("roc_auc", row(value, low, high), EXPECTED, MonitorParams())
    assert found.status == status and words in found.reason and found.basis == "realized"


def test_lower_is_better_metrics_decay_upwards() -> None:
    found = monitor.realized_decay("rmse", row(12.0, 11.5, 12.5), Interval(10.0, 9.5, 10.5), MonitorParams())
    assert found.status == "RETRAIN" and found.change == pytest.approx(-0.2)


def test_an_estimated_loss_only_warns() -> None:
    found = monitor.estimated_decay("roc_auc", 0.6, EXPECTED, MonitorParams())
    assert found.status == "WARN" and "collect labels" in found.reason


def test_decay_without_expected_value_or_labels_is_unknown_not_alarming() -> None:
    table = pd.DataFrame([{"realized": np.nan, "estimated": np.nan}], index=["all"])
    assert monitor.decay("rmse", table, None, MonitorParams()).basis == "none"
    unknown = monitor.decay("rmse", table, Interval(1, 1, 1), MonitorParams())
    assert unknown.status == "OK" and "unknown" in unknown.reason


def dataset(drifted: int, columns: int = 10) -> Any:
    from mlworkflow.core.drift import DatasetDrift

    names = tuple(f"f{i}" for i in range(drifted))
    return DatasetDrift(columns, drifted, names, drifted / columns, 0.3, "effect")


def test_verdict_takes_the_most_serious_reason_first() -> None:
    params, quiet = MonitorParams(), pd.Series({"drifted": False, "why": ""})
    ok = monitor.Decay("roc_auc", "realized", 0.8, 0.79, 0.81, EXPECTED, 0.0, "OK", "Performance holds.")
    assert monitor.verdict(dataset(0), quiet, ok, 1000, params) == monitor.Verdict(
        "OK", ("No feature drifted (10 checked by effect sizes).", "Performance holds.")
    )
    warned = monitor.verdict(dataset(1), pd.Series({"drifted": True, "why": "x"}), ok, 10, params)
    assert warned.status == "WARN" and len(warned.reasons) == 4 and warned.reasons[-1] == "Performance holds."
    retrain = monitor.verdict(dataset(5), quiet, ok, 1000, params)
    assert retrain.status == "RETRAIN" and retrain.reasons[0].startswith("5 of 10 features drifted (f0, f1, f2, f3 +1 more)")
    tested = dataclasses.replace(dataset(0), method="test")  # no 'BH' jargon in a sentence a manager reads
    assert monitor.drift_reason(tested) == (
        "OK", "No feature drifted (10 checked by significance tests corrected for testing many features at once).")



def test_too_few_rows_are_said_first_and_never_mean_retrain() -> None:
    params, quiet = MonitorParams(), pd.Series({"drifted": False, "why": ""})
    ok = monitor.Decay("roc_auc", "realized", 0.8, 0.79, 0.81, EXPECTED, 0.0, "OK", "Performance holds.")
    few = monitor.verdict(dataset(5), quiet, ok, 2, params)
    assert few.status == "WARN" and few.reasons[0].startswith("Too few rows to judge: only 2 current row(s), fewer than the 50")
    assert few.reasons[1].startswith("5 of 10 features drifted") and len(few.reasons) == 3


def test_an_estimate_on_too_few_rows_is_shown_but_not_judged() -> None:
    table = pd.DataFrame([{"rows": 2, "realized": np.nan, "estimated": 0.5}], index=["all"])
    found = monitor.decay("roc_auc", table, EXPECTED, MonitorParams())
    assert found.status == "OK" and found.change is None and found.value == 0.5 and "worse" not in found.reason
    assert "on 2 row(s) is not compared with the expected 0.800 [0.780, 0.820]: too few rows" in found.reason
    enough = monitor.decay("roc_auc", table.assign(rows=500), EXPECTED, MonitorParams())
    assert enough.status == "WARN" and "38% worse" in enough.reason


# --- reading current data ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> kit.Tiny:
    return kit.tiny_model(tmp_path_factory.mktemp("registry"))


def test_clean_names_a_missing_input_and_reads_markers(tiny: kit.Tiny) -> None:
    raw = tiny.rows.copy()
    raw.loc[0, "workclass"] = "?"
    raw["age"] = raw["age"].astype(str)
    cleaned = monitor.clean(raw, tiny.contract, ["?"])
    assert pd.isna(cleaned.loc[0, "workclass"]) and pd.api.types.is_float_dtype(cleaned["age"])
    with pytest.raises(DataError, match="column 'age': is an input of the model"):
        monitor.clean(raw.drop(columns="age"), tiny.contract, ["?"])


def test_labels_read_as_floats_stay_classes_and_markers_mean_unknown() -> None:
    labels = monitor.label_column(pd.DataFrame({"y": [1.0, np.nan, 0.0]}), "y")
    assert [str(v) for v in labels[labels.notna()]] == ["1", "0"]
    assert monitor.label_column(pd.DataFrame({"y": ["a", "?"]}), "y", ["?"]).notna().tolist() == [True, False]
    assert monitor.label_column(pd.DataFrame({"x": [1]}), "y").isna().all()


def test_read_window_joins_feedback_and_filters_time_name_and_version(log_url: str) -> None:
    log = PredictionLog(log_url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {"id": f"{i:032d}", "request_id": "r", "created_at": start + timedelta(hours=i), "model_name": name,
         "model_version": version, "inputs": {"x": i}, "prediction": "yes", "scores": None, "flags": [], "path": "fast"}
        for i, (name, version) in enumerate([("m", "1"), ("m", "1"), ("m", "2"), ("other", "1"), ("m", "1")])
    ]
    log.write(rows)
    log.add_feedback(rows[1]["id"], "no", "r")
    window = read_window(log, start + timedelta(minutes=30), start + timedelta(hours=4), "m")
    assert window["id"].tolist() == [rows[1]["id"], rows[2]["id"]]
    assert window["label"].iloc[0] == "no" and pd.isna(window["label"].iloc[1])
    assert read_window(log, version="1", name="m")["id"].tolist() == [rows[i]["id"] for i in (0, 1, 4)]
    log.close()


def test_an_empty_log_window_is_a_clear_warning_not_an_error(tiny: kit.Tiny, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "predictions.sqlite")
    log = PredictionLog(url)
    log.write([{"id": "0" * 32, "request_id": "r", "created_at": datetime(2026, 1, 1, tzinfo=UTC), "model_name": "tiny",
                "model_version": "9", "inputs": {}, "prediction": "yes", "scores": None, "flags": [], "path": "fast"}])
    log.close()
    tiny.train.to_csv(tmp_path / "reference.csv", index=False)
    params = MonitorParams(model="tiny@champion", registry=str(tiny.registry.root), reference=str(tmp_path / "reference.csv"),
                           log_url=url, since="2026-01-01")
    result = monitor.assess(params, sources.resolve(params, io.Artifacts(tmp_path / "artifacts")), 0)
    assert isinstance(result, monitor.Empty) and result.verdict.status == "WARN" and len(result.verdict.reasons) == 1
    reason = result.verdict.reasons[0]
    assert reason.startswith("No rows to judge: prediction log, 2026-01-01 to now holds no rows for tiny@1.")
    assert "widen the window (--since / --until) (1 prediction(s) of other versions were in it)" in reason
    content = monitor.record(result, params)
    assert content.current.rows == 0 and content.drift.table == [] and content.performance.basis == "none"
    assert content.headline["window"] == "0 rows" and json.dumps(content.model_dump())
    shown = [view.drift_table(result), view.performance_table(result), view.plot_drifted(result), view.plot_prediction(result)]
    assert all(getattr(s, "data", "") == view.NOTHING for s in shown) and view.plot_performance(result, 0.05) is None
    assert view.sources_table(result)["current rows"] == "0" and view.sources_table(result)["deciding metric"] == "ROC AUC"


def test_params_reject_two_sources_and_bad_times(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("run: {name: x}\ndata: {path: x.csv, target: y}\n", encoding="utf-8")
    (tmp_path / "x.csv").write_text("a,y\n1,2\n", encoding="utf-8")
    (tmp_path / "x.sqlite").touch()
    with pytest.raises(ParamsError, match="either 'current'"):
        load_params(path, ["monitor.current=x.csv", "monitor.log_url=sqlite:///x.sqlite"])
    with pytest.raises(ParamsError, match="ISO date"):
        load_params(path, ["monitor.since=yesterday"])
    with pytest.raises(ParamsError, match="Did you mean 'roc_auc'"):
        load_params(path, ["monitor.metric=roc_uac"])
    assert load_params(path, ["monitor.since=2026-01-31"]).monitor.since == "2026-01-31"


def test_monitor_command_points_the_stage_at_the_log(tmp_path: Path) -> None:
    args = cli.build_parser().parse_args(
        ["monitor", str(ROOT / "params" / "smoke.yaml"), "--log", "--root", str(tmp_path), "--since", "2026-01-31T10:00"]
    )
    sets = dict(item.split("=", 1) for item in cli._monitor_overrides(args))
    registry = tmp_path.resolve() / "models"
    assert sets["monitor.registry"] == json.dumps(str(registry))
    assert sets["monitor.model"] == '"adult-smoke@champion"' and sets["monitor.current"] == "null"
    assert sets["monitor.log_url"] == json.dumps(sqlite_url(registry / "adult-smoke" / "predictions.sqlite"))
    assert sets["monitor.since"] == '"2026-01-31T10:00"'



def test_monitoring_a_log_that_does_not_exist_is_refused_before_any_kernel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "models" / "adult-smoke" / "predictions.sqlite"
    code = cli.main(["monitor", str(ROOT / "params" / "smoke.yaml"), "--log", "--root", str(tmp_path)])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and "key 'monitor.log_url': expected an existing prediction log" in line
    assert f"no file at {sqlite_url(missing)}" in line
    assert list(tmp_path.iterdir()) == []  # no run folder, no report, no log created

# --- acceptance on real data -------------------------------------------------------------------------------------


def register(root: Path, name: str, train: pd.DataFrame, holdout: pd.DataFrame, meta: dict[str, Any],
             settings: PreprocessParams, metric: str = "roc_auc") -> MonitorParams:
    """Fit a gradient-boosting pipeline, record its metric on a holdout, register it as champion; params to monitor it."""
    import skops.io as sio

    spec = preprocess.infer_spec(train, meta, settings)
    pipeline = families.make_pipeline(spec, "hist_gradient_boosting", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(train[list(spec.features)], train[spec.target])
    target = Target.from_spec(spec)
    expected = monitor.realized(scoring.score(pipeline, holdout[list(spec.features)], holdout[spec.target], target),
                                metric, MonitorParams(), 0)
    threshold = 0.5 if meta["task"] == "binary" else None
    metadata = BundleMetadata.model_validate({
        **meta, "name": name, "threshold": threshold, "threshold_rule": "max_f1", "metric": metric,
        "family": "hist_gradient_boosting", "best_params": {}, "metrics": {metric: {**vars(expected), "baseline": None}},
        "groups": [],
    })
    files = deploy.bundle_files(sio.dumps(pipeline), metadata, learn_contract(train, spec.numeric, spec.categorical), "#\n")
    registry = Registry(root)
    registry.promote(name, registry.register(name, files).version, "champion")
    return MonitorParams(model=f"{name}@champion", registry=str(root), missing_markers=settings.missing_markers)


@pytest.mark.shared
def test_adult_test_against_adult_train_is_ok(shared_data: Path, tmp_path: Path) -> None:
    meta = {"target": "income", "task": "binary", "classes": ["<=50K", ">50K"], "positive_class": ">50K"}
    raw = pd.read_csv(shared_data / "adult_train.csv", skipinitialspace=True)
    cleaned, _ = preprocess.clean(raw, meta, PreprocessParams())
    base = register(tmp_path / "models", "adult", cleaned.iloc[:8000], cleaned.iloc[8000:12000], meta, PreprocessParams())
    params = base.model_copy(update={"reference": str(shared_data / "adult_train.csv"),
                                     "current": str(shared_data / "adult_test.csv")})
    result = monitor.assess(params, sources.resolve(params, io.Artifacts(tmp_path / "artifacts")), seed=0)
    assert isinstance(result, monitor.Assessment)
    assert result.verdict.status == "OK", result.verdict.reasons
    assert not result.table["drifted"].any() and set(result.table["method"]) == {"effect"}
    assert result.decay.basis == "realized" and result.decay.status == "OK"
    assert result.verdict.reasons[0] == "No feature drifted (14 checked by effect sizes)."


@pytest.mark.shared
def test_bank_marketing_late_rows_mean_retrain(shared_data: Path, tmp_path: Path) -> None:
    meta = {"target": "y", "task": "binary", "classes": ["no", "yes"], "positive_class": "yes"}
    settings = PreprocessParams(drop=("duration",), missing_markers=("unknown",))
    bank = pd.read_csv(shared_data / "bank_marketing.csv")
    cut = int(len(bank) * 0.8)
    bank.iloc[:cut].to_csv(tmp_path / "reference.csv", index=False)
    bank.iloc[cut:].to_csv(tmp_path / "current.csv", index=False)
    cleaned, _ = preprocess.clean(bank.iloc[:cut], meta, settings)
    shuffled = cleaned.sample(frac=1.0, random_state=0)  # a random test split, as the workflow's evaluate stage uses
    fit_rows = int(len(shuffled) * 0.8)
    base = register(tmp_path / "models", "bank", shuffled.iloc[:fit_rows], shuffled.iloc[fit_rows:], meta, settings)
    params = base.model_copy(update={"reference": str(tmp_path / "reference.csv"), "current": str(tmp_path / "current.csv")})
    result = monitor.assess(params, sources.resolve(params, io.Artifacts(tmp_path / "artifacts")), seed=0)
    assert isinstance(result, monitor.Assessment)
    assert result.verdict.status == "RETRAIN"
    assert {"nr.employed", "euribor3m", "emp.var.rate"} <= set(result.dataset.names)
    assert result.verdict.reasons[0].startswith(f"{result.dataset.drifted} of 19 features drifted (")
    assert "nr.employed" in result.verdict.reasons[0]
    assert result.decay.status == "RETRAIN" and result.decay.value is not None and result.decay.value < 0.7
    assert view.verdict_markdown(result).startswith("### Verdict: **RETRAIN**\n\n- ")
    content = monitor.record(result, params)
    assert content.verdict == "RETRAIN" and content.headline["verdict"] == "RETRAIN"
    assert sorted(content.headline)[0] == "verdict"  # monitor.json's keys are sorted: the verdict still leads


@pytest.mark.shared
@pytest.mark.parametrize(
    ("file", "meta", "metric", "estimate"),
    [
        ("penguins.csv", {"target": "species", "task": "multiclass", "classes": ["Adelie", "Chinstrap", "Gentoo"],
                          "positive_class": None}, "balanced_accuracy", True),
        ("california_housing.csv", {"target": "median_house_value", "task": "regression", "classes": [],
                                    "positive_class": None}, "rmse", False),
    ],
)
def test_every_task_realized_with_labels_estimated_or_unknown_without(
    shared_data: Path, tmp_path: Path, file: str, meta: dict[str, Any], metric: str, estimate: bool
) -> None:
    cleaned, _ = preprocess.clean(pd.read_csv(shared_data / file), meta, PreprocessParams())
    cleaned = cleaned.sample(n=min(len(cleaned), 4000), random_state=0).reset_index(drop=True)
    third = len(cleaned) // 3
    base = register(tmp_path / "models", "m", cleaned.iloc[:third], cleaned.iloc[third : 2 * third], meta,
                    PreprocessParams(), metric)
    cleaned.iloc[third : 2 * third].to_csv(tmp_path / "reference.csv", index=False)  # out of sample, like a test split
    cleaned.iloc[2 * third :].to_csv(tmp_path / "current.csv", index=False)
    cleaned.iloc[2 * third :].drop(columns=meta["target"]).to_csv(tmp_path / "unlabelled.csv", index=False)
    params = base.model_copy(update={"reference": str(tmp_path / "reference.csv"), "min_rows": 20, "chunks": 3})
    watched = params.model_copy(update={"current": str(tmp_path / "current.csv")})
    labelled = monitor.assess(watched, sources.resolve(watched, io.Artifacts(tmp_path)), 0)
    assert isinstance(labelled, monitor.Assessment)
    assert labelled.verdict.status == "OK", labelled.verdict.reasons
    assert labelled.decay.basis == "realized" and labelled.decay.metric == metric
    unlabelled = params.model_copy(update={"current": str(tmp_path / "unlabelled.csv")})
    blind = monitor.assess(unlabelled, sources.resolve(unlabelled, io.Artifacts(tmp_path)), 0)
    assert isinstance(blind, monitor.Assessment)
    assert blind.decay.basis == ("estimated" if estimate else "none")
    content = monitor.record(blind, params)
    assert (content.performance.assumption == monitor.CBPE_ASSUMPTION) is estimate
    assert json.dumps(content.model_dump())  # JSON-ready


# --- end to end -----------------------------------------------------------------------------------------------------


def labelled_records(tiny: kit.Tiny, frame: pd.DataFrame) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows the contract accepts, as JSON records, with their true labels."""
    records = [{c: deploy.json_value(v) for c, v in r.items()} for r in frame[list(tiny.contract.names)].to_dict("records")]
    positions = Validator(tiny.contract, "reject").records(records).positions
    return [records[i] for i in positions], [str(frame["income"].iloc[i]) for i in positions]


@pytest.mark.e2e
def test_monitor_reads_what_the_service_logged(tiny: kit.Tiny, tmp_path: Path) -> None:
    log_url = sqlite_url(tmp_path / "predictions.sqlite")
    records, labels = labelled_records(tiny, kit.adult(500, skip=1000))
    tiny.train.to_csv(tmp_path / "reference.csv", index=False)
    app = create_app(tiny.model, kit.params(), log_url)
    with kit.running(app) as url, httpx2.Client(base_url=url, timeout=30) as http:
        assert http.post("/predict", json=records[:20]).status_code == 200  # before the window: not read
        since = datetime.now(UTC).isoformat()
        ids = []
        for start in range(20, 320, 100):
            answer = http.post("/predict", json=records[start : start + 100])
            assert answer.status_code == 200
            ids += [p["id"] for p in answer.json()["predictions"]]
        for prediction_id, label in zip(ids[:200], labels[20:220], strict=True):
            assert http.post("/feedback", json={"id": prediction_id, "label": label}).status_code == 201
    code = cli.main([
        "monitor", str(ROOT / "params" / "smoke.yaml"), "--log", log_url, "--since", since,
        "--model", "tiny@champion", "--registry", str(tiny.registry.root), "--root", str(tmp_path),
        "--run-id", "watch", "--set", f"monitor.reference={tmp_path / 'reference.csv'}",
    ])
    content = json.loads((tmp_path / "runs" / "watch" / "artifacts" / "monitor.json").read_text(encoding="utf-8"))
    assert code == (3 if content["verdict"] == "RETRAIN" else 0)
    assert content["current"]["source"].startswith("prediction log, ") and content["current"]["rows"] == 300
    assert content["current"]["labelled"] == 200 and content["model"] == "tiny@1"
    assert content["performance"]["basis"] == "realized"
    chunks = [c for c in content["performance"]["chunks"] if c["chunk"] != "all"]
    assert sum(c["rows"] for c in chunks) == 300 and sum(c["labelled"] for c in chunks) == 200
    assert (tmp_path / "reports" / "watch" / "07_monitor.html").is_file()


@pytest.mark.e2e
def test_the_smoke_run_ends_with_a_verdict(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, out = smoke_run
    assert done.returncode == 0, done.stderr[-2000:]
    found = list((out / "runs").glob("*/artifacts/monitor.json"))
    assert found, "the smoke run has no monitor stage"
    content = json.loads(found[0].read_text(encoding="utf-8"))
    assert content["verdict"] in ("OK", "WARN") and content["reasons"]
    assert content["current"]["source"] == "file adult_test.csv.gz" and content["current"]["labelled"] == 16281
    assert next(iter(content["headline"])) == "verdict"


def test_drift_settings_carry_the_monitor_params() -> None:
    params = MonitorParams(test_rows=123, psi_bands=(0.2, 0.3), drift_share=0.5)
    settings = monitor.drift_settings(params)
    assert (settings.test_rows, settings.psi_bands, settings.drift_share) == (123, (0.2, 0.3), 0.5)
    assert settings.alpha == params.alpha and settings.bins == params.bins


def test_free_text_inputs_get_no_drift_test() -> None:
    train = pd.DataFrame({"x": [1.0, 2.0], "colour": ["red", "blue"], "message": ["win a prize", "see you"]})
    contract = learn_contract(train, ["x"], ["colour"], text=["message"])
    assert monitor.features(contract) == (["x"], ["colour"])
