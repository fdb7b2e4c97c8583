"""Refinement: the new data's holdout, the champion/challenger comparison and gate, and a real retrain."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlworkflow.bundle.registry import Registry
from mlworkflow.core.scoring import Scored
from mlworkflow.errors import DataError
from mlworkflow.params import MonitorParams, PreprocessParams
from mlworkflow.workflow import cli, retrain
from tests import servekit as kit
from tests.stages.test_monitor import register


def test_the_latest_new_rows_are_held_out() -> None:
    new = pd.DataFrame({"x": range(10), "when": pd.date_range("2026-01-01", periods=10, freq="D")[::-1]})
    train, held = retrain.split_new(new, 0.3, "when")
    assert held["x"].tolist() == [2, 1, 0] and len(train) == 7
    train, held = retrain.split_new(new, 0.25)
    assert held["x"].tolist() == [7, 8, 9]
    with pytest.raises(DataError, match="too few to hold out"):
        retrain.split_new(new.head(1), 0.5)


def test_new_rows_need_the_old_columns() -> None:
    old, new = pd.DataFrame({"a": [1], "y": ["n"]}), pd.DataFrame({"y": ["y"], "a": [2], "extra": [0]})
    assert retrain.combine(old, new).to_dict("list") == {"a": [1, 2], "y": ["n", "y"]}
    with pytest.raises(DataError, match="column 'a': is a column of the old data but not of the new data"):
        retrain.combine(old, new.drop(columns="a"))


def scored(values: np.ndarray, truth: np.ndarray) -> Scored:
    return Scored("binary", ("no", "yes"), truth, values, (values >= 0.5).astype(float), True, 0.5)


def test_comparison_is_paired_and_gains_point_the_better_way() -> None:
    rng = np.random.default_rng(0)
    truth = (rng.random(2000) < 0.3).astype(float)
    weak = np.clip(0.3 + 0.1 * (truth - 0.3) + rng.normal(0, 0.15, truth.size), 0.01, 0.99)
    strong = np.clip(0.3 + 0.4 * (truth - 0.3) + rng.normal(0, 0.15, truth.size), 0.01, 0.99)
    same = retrain.comparison(scored(weak, truth), scored(weak, truth), MonitorParams(bootstrap=50), 0)
    assert (same[["gain", "gain_low", "gain_high"]].to_numpy() == 0).all()
    table = retrain.comparison(scored(weak, truth), scored(strong, truth), MonitorParams(bootstrap=50), 0)
    assert table.loc["roc_auc", "gain_low"] > 0 and table.loc["log_loss", "gain"] > 0
    assert table.loc["log_loss", "better"] == "lower" and table.loc["log_loss", "challenger"] < table.loc["log_loss", "champion"]


def table(gain: float, low: float, champion: float = 0.8) -> pd.DataFrame:
    return pd.DataFrame(
        [{"champion": champion, "challenger": champion + gain, "gain": gain, "gain_low": low, "gain_high": gain + 0.01,
          "relative_gain": gain / champion}],
        index=pd.Index(["roc_auc"], name="metric"),
    )


def test_rules_map_auto_to_the_deciding_metric() -> None:
    params = MonitorParams(gate_min_gain={"auto": 0.01}, gate_min_relative_gain={"f1": 0.05},
                           gate_no_worse=("log_loss",), gate_tolerance=0.02)
    assert retrain.rules(params, "roc_auc") == [
        retrain.Rule("roc_auc", "gain", 0.01, 0.0), retrain.Rule("f1", "gain", 0.0, 0.05),
        retrain.Rule("log_loss", "no worse", tolerance=0.02),
    ]


@pytest.mark.parametrize(
    ("rule", "gain", "low", "significant", "passes"),
    [
        (retrain.Rule("roc_auc", "gain", 0.01), 0.02, 0.005, True, True),
        (retrain.Rule("roc_auc", "gain", 0.01), 0.02, -0.001, True, False),  # not significant
        (retrain.Rule("roc_auc", "gain", 0.01), 0.02, -0.001, False, True),
        (retrain.Rule("roc_auc", "gain", 0.03), 0.02, 0.01, True, False),  # too small
        (retrain.Rule("roc_auc", "gain", 0.0, 0.05), 0.02, 0.01, True, False),  # 2.5% < 5% relative
        (retrain.Rule("roc_auc", "gain", 0.0), 0.0, 0.0, True, False),  # no gain at all
        (retrain.Rule("roc_auc", "no worse", tolerance=0.01), -0.005, -0.02, True, True),
        (retrain.Rule("roc_auc", "no worse", tolerance=0.01), -0.02, -0.03, True, False),
    ],
)
def test_each_rule(rule: retrain.Rule, gain: float, low: float, significant: bool, passes: bool) -> None:
    ok, sentence = retrain.check(rule, table(gain, low), significant)
    assert ok is passes and sentence.startswith("ROC AUC 0.800 →")


def test_a_metric_the_models_lack_fails_its_rule_and_no_rules_pass() -> None:
    ok, sentence = retrain.check(retrain.Rule("rmse", "gain"), table(0.1, 0.05), True)
    assert not ok and "not computed" in sentence
    assert retrain.gate(table(0.1, 0.05), MonitorParams(gate_min_gain={}), "roc_auc").passed


def test_holdout_rows_without_a_label_are_left_out(tmp_path: Path) -> None:
    tiny = kit.tiny_model(tmp_path)
    holdout = tiny.rows.head(50).copy()
    holdout.loc[:9, "income"] = "?"
    found = retrain.holdout_scored(tiny.model, holdout, ["?"])
    assert found.n_rows == 40 and found.threshold == 0.4
    with pytest.raises(DataError, match="column 'income': the new data has no target column"):
        retrain.holdout_scored(tiny.model, holdout.drop(columns="income"), ["?"])


def test_report_says_what_was_decided(tmp_path: Path) -> None:
    outcome = retrain.Outcome(run=None, rows={"old": 10}, challenger="m@2", champion="m@1",  # type: ignore[arg-type]
                              table=table(0.02, 0.01).assign(better="higher", champion_low=0.79, champion_high=0.81,
                                                               challenger_low=0.81, challenger_high=0.83),
                              gate=retrain.Gate(True, ("roc_auc gained.",)), promote_command="mlworkflow promote m 2")
    page = retrain.page(outcome, "Retrain")
    banner = page.split('id="mlw-decision"')[1].split("</strong>")[0]
    assert banner.endswith("passed the gate; it can be promoted to champion")  # no command in the stakeholder's banner
    assert '<details id="mlw-promote">' in page and "<code>mlworkflow promote m 2</code>" in page  # folded, for the scientist
    assert "<li>ROC AUC gained.</li>" in page  # the gate's reasons in human names
    assert "promote it with: mlworkflow promote m 2" in retrain.decision_text(outcome)  # the console keeps the command
    assert "http" not in page  # offline


@pytest.mark.shared
@pytest.mark.e2e
def test_bank_retrain_beats_the_champion_and_is_promoted(shared_data: Path, tmp_path: Path) -> None:
    meta = {"target": "y", "task": "binary", "classes": ["no", "yes"], "positive_class": "yes"}
    settings = PreprocessParams(drop=("duration",), missing_markers=("unknown",))
    bank = pd.read_csv(shared_data / "bank_marketing.csv")
    cut = int(len(bank) * 0.8)
    bank.iloc[:cut].to_csv(tmp_path / "old.csv", index=False)
    bank.iloc[cut:].to_csv(tmp_path / "new.csv", index=False)
    from mlworkflow.stages import preprocess

    cleaned, _ = preprocess.clean(bank.iloc[:cut], meta, settings)
    shuffled = cleaned.sample(frac=1.0, random_state=0)
    register(tmp_path / "models", "bank", shuffled.iloc[:26000], shuffled.iloc[26000:], meta, settings)  # bank@1, champion
    (tmp_path / "bank.yaml").write_text(BANK_PARAMS, encoding="utf-8")
    code = cli.main(["retrain", "--with", str(tmp_path / "new.csv"), str(tmp_path / "bank.yaml"),
                     "--root", str(tmp_path), "--run-id", "again"])
    content = json.loads((tmp_path / "runs" / "again" / "artifacts" / "retrain.json").read_text(encoding="utf-8"))
    assert code == 0, content["reasons"]
    assert content["passed"] and content["promoted"] and content["champion"] == "bank@1" and content["challenger"] == "bank@2"
    assert content["rows"] == {"old": cut, "new, trained on": 4119, "new, held out": 4119}
    auc = next(row for row in content["comparison"] if row["metric"] == "roc_auc")
    assert auc["gain_low"] > 0
    assert Registry(tmp_path / "models").entry("bank", "champion").version == "2"
    assert "is now the champion" in (tmp_path / "reports" / "again" / "retrain.html").read_text(encoding="utf-8")
    index = (tmp_path / "reports" / "again" / "index.html").read_text(encoding="utf-8")
    assert "Retrain gate: passed." in index and 'href="retrain.html"' in index


BANK_PARAMS = """
run: {name: bank, seed: 42}
data: {path: old.csv, target: y, positive_class: "yes"}
preprocess: {drop: [duration], missing_markers: [unknown]}
select: {candidates: [hist_gradient_boosting], folds: 2, repeats: 1, max_rows: 3000, n_jobs: 1}
train: {search: random, n_iter: 1, folds: 2, learning_curve: false, n_jobs: 1}
evaluate: {bootstrap: 50, threshold_folds: 2, permutation_repeats: 1, n_jobs: 1}
deploy: {name: bank, registry: models}
monitor:
  missing_markers: [unknown]
  holdout_share: 0.5
  bootstrap: 200
  gate_min_gain: {auto: 0.01}
  gate_no_worse: [log_loss]
  auto_promote: true
"""


def test_the_report_looks_like_the_other_pages_links_back_and_has_its_plots(tmp_path: Path) -> None:
    tiny = kit.tiny_model(tmp_path)
    compared = table(0.02, 0.01).assign(better="higher", champion_low=0.79, champion_high=0.81,
                                        challenger_low=0.81, challenger_high=0.83)
    decision = retrain.Gate(False, ("roc_auc missed.",), ("roc_auc",))
    drawn = retrain.report_plots(compared, decision, tiny.train, tiny.rows.assign(age=tiny.rows["age"] + 20),
                                 tiny.model.contract, MonitorParams())
    assert list(drawn) == ["Champion and challenger on the held-out new rows (95% intervals)",
                           "The new rows against the old, on the features that moved most"]
    outcome = retrain.Outcome(run=None, rows={"old": 1200}, challenger="m@2", champion="m@1",  # type: ignore[arg-type]
                              table=compared, gate=decision, plots=drawn)
    page = retrain.page(outcome, "Retrain r", "r")
    assert '<a href="index.html">← this run\'s summary</a> · <a href="../index.html">all runs</a>' in page
    assert 'class="mlw-verdict mlw-verdict-warn"' in page and "failed the gate; the champion m@1 stays" in page
    assert ".mlw-header" in page and "font-family: system-ui" in page  # report.css and the listing style
    assert "ROC AUC <strong>(gate)</strong>" in page and page.count("<img") == 2 and "1,200" in page
    assert "http" not in page
