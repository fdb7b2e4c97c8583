"""The executive summary's sentences and recommendation, from records built here (tests/recordkit.py)."""

from __future__ import annotations

from typing import Any

from mlworkflow.records import (
    DataRecord,
    EvaluateRecord,
    MonitorRecord,
    PreprocessRecord,
    SelectRecord,
    TrainRecord,
)
from mlworkflow.views import story, summary
from tests import recordkit


def span(value: float, low: float, high: float) -> dict[str, float]:
    return {"value": value, "low": low, "high": high}


def binary(**changes: Any) -> EvaluateRecord:
    """The fixture's binary evaluation without group flags: it beats the baseline and the class shares."""
    groups = [{**g, "flag": ""} for g in recordkit.content(EvaluateRecord)["groups"]]
    return recordkit.record(EvaluateRecord, **{"groups": groups, **changes})


def records(**changes: Any) -> summary.RunRecords:
    """A binary run's records (the fixture's smoke run), some replaced."""
    found: dict[str, Any] = {
        "data": recordkit.record(DataRecord), "preprocess": recordkit.record(PreprocessRecord),
        "select": recordkit.record(SelectRecord), "train": recordkit.record(TrainRecord), "evaluate": binary(),
        "monitor": recordkit.record(MonitorRecord),
    }
    return summary.RunRecords(**{**found, **changes})


def check(found: summary.Executive, name: str) -> summary.Check:
    return next(c for c in found.checks if c.name == name)


def test_a_binary_model_that_passes_every_check_ships() -> None:
    found = summary.executive(records())
    assert found.title == "Predicting whether income is >50K"
    assert found.predicts == ("The model predicts whether income is >50K for each row, learnt from 2,000 rows of "
                              "adult_train.csv.gz (a sample of its 32,561), 24% of them >50K. It was tested on 400 rows "
                              "held out from training.")
    flagged = found.performance[0]
    assert flagged.startswith("Of every 1,000 rows it flags as >50K, about 720 are, against 239 by chance; "
                              "it finds about 7 in 10 of all >50K rows (decision threshold 0.408")
    assert found.performance[1] == ("On the deciding metric, ROC AUC, it scores 0.916 (95% interval 0.882–0.944), "
                                    "against 0.500 for a baseline that ignores the inputs.")
    assert [(c.name, c.passed) for c in found.checks] == [
        ("beats the baseline", True), ("probabilities", True), ("group gaps", True), ("monitoring", True),
    ]
    assert found.recommendation == "SHIP" and found.because == "It clearly beats the baseline and every check below passed."
    assert found.performance[2] == "Its predictions lean most on marital-status, education-num and capital-gain (permutation importance)."
    assert "becomes HOLD if monitoring on new data says RETRAIN" in found.changes
    assert found.watch is not None and found.watch.title == "Monitoring verdict: OK"


def test_group_gaps_hold_a_model_and_name_the_groups() -> None:
    found = summary.executive(records(evaluate=recordkit.record(EvaluateRecord)))  # the fixture flags sex groups
    assert found.recommendation == "HOLD"
    assert found.because == "Its results differ between groups beyond the tolerance."
    gaps = check(found, "group gaps")
    assert gaps.passed is False and "sex = Female: precision -0.057, recall -0.186" in gaps.sentence
    assert found.risks[0].startswith("Results differ between groups")
    assert found.changes == "It becomes SHIP once no group gap is flagged, or the gaps are reviewed and accepted."


def test_no_better_than_the_baseline_holds() -> None:
    difference = {**recordkit.content(EvaluateRecord)["difference"], "roc_auc": span(0.02, -0.01, 0.05)}
    found = summary.executive(records(evaluate=binary(difference=difference)))
    assert found.recommendation == "HOLD"
    beats = check(found, "beats the baseline")
    assert beats.passed is False and "95% interval -0.010 to 0.050" in beats.sentence
    assert "not clearly better than a baseline that ignores the inputs" in found.because


def test_probabilities_worse_than_the_class_shares_hold() -> None:
    difference = {**recordkit.content(EvaluateRecord)["difference"], "log_loss": span(0.05, 0.01, 0.09)}
    found = summary.executive(records(evaluate=binary(difference=difference)))
    assert check(found, "probabilities").passed is False and found.recommendation == "HOLD"
    assert "no better than the class shares alone" in found.because


def test_a_multiclass_model_says_right_answers_per_hundred() -> None:
    data = recordkit.record(DataRecord, task="multiclass", target="species", classes=["Adelie", "Chinstrap", "Gentoo"],
                            positive_class=None, source_rows=2000)
    metrics = {"accuracy": span(0.853, 0.8, 0.9), "balanced_accuracy": span(0.83, 0.78, 0.88)}
    evaluate = binary(metric="balanced_accuracy", metrics=metrics, threshold=None,
                      baseline={"accuracy": span(0.44, 0.4, 0.48), "balanced_accuracy": span(0.333, 0.333, 0.333)},
                      difference={"balanced_accuracy": span(0.5, 0.44, 0.55)})
    found = summary.executive(records(data=data, evaluate=evaluate))
    assert found.title == "Predicting species"
    assert "species, one of 3 classes (Adelie, Chinstrap, Gentoo)" in found.predicts
    assert found.performance[:2] == [
        "It names the right class for about 85 of every 100 rows; always guessing the most common class would get 44.",
        "Counting every class equally, it is right 83% of the time (balanced accuracy).",
    ]
    assert [c.name for c in found.checks] == ["beats the baseline", "group gaps", "monitoring"]  # no log loss here


def test_a_regression_model_speaks_in_the_target_s_units() -> None:
    data = recordkit.record(DataRecord, task="regression", target="price", classes=[], positive_class=None)
    evaluate = binary(metric="rmse", lower_is_better=True, threshold=None, metrics={"rmse": span(0.52, 0.5, 0.55),
                      "mae": span(0.35, 0.33, 0.37)}, baseline={"rmse": span(1.15, 1.1, 1.2)},
                      difference={"rmse": span(-0.63, -0.67, -0.59)})
    found = summary.executive(records(data=data, evaluate=evaluate))
    assert found.performance[:2] == [
        "Its predictions of price are typically off by about 0.520 (root mean squared error, in price's units; "
        "its mean absolute error is 0.350).",
        "Predicting the average for every row would be off by 1.15: the model's typical error is 55% smaller.",
    ]
    assert check(found, "beats the baseline").passed is True
    worse = binary(metric="rmse", lower_is_better=True, metrics={"rmse": span(1.2, 1.1, 1.3)},
                   baseline={"rmse": span(1.15, 1.1, 1.2)}, difference={"rmse": span(0.05, -0.02, 0.1)})
    held = summary.executive(records(data=data, evaluate=worse))
    assert held.recommendation == "HOLD" and "the model's typical error is 4% larger" in held.performance[1]


def test_a_check_on_the_run_s_own_test_split_is_a_baseline_check_not_monitoring() -> None:
    current = {**recordkit.content(MonitorRecord)["current"], "source": story.OWN_TEST_SPLIT}
    found = summary.executive(records(monitor=recordkit.record(MonitorRecord, current=current)))
    assert found.watch is not None and found.watch.kind == "baseline check" and not found.watch.monitored
    assert found.watch.title.startswith("Baseline check: OK (on the run's own test split, not on new data)")
    assert "This is not monitoring" in found.watch.reasons[0]
    watched = check(found, "monitoring")
    assert watched.passed is None and not watched.required and "only a baseline check" in watched.sentence
    assert found.recommendation == "SHIP"  # not monitored yet is said, and does not hold a model back


def test_monitoring_that_says_retrain_holds() -> None:
    found = summary.executive(records(monitor=recordkit.record(MonitorRecord, verdict="RETRAIN")))
    assert check(found, "monitoring").passed is False and found.recommendation == "HOLD"
    assert found.because == "Monitoring on new data says RETRAIN."


def test_the_numbers_story_says_why_the_three_scores_differ() -> None:
    told = summary.executive(records()).story
    assert told[0] == "Random forest scored best of the 6 families selection compared."
    assert told[1] == (
        "ROC AUC was measured 3 ways: 0.906 when selection compared the families (3-fold cross-validation on 1,500 "
        "rows, default settings); 0.903 after tuning (cross-validation on the 1,600 training rows; the best of 9 "
        "settings tried, so a little optimistic); 0.916 (95% interval 0.882–0.944) on the 400 test rows no earlier "
        "step had seen."
    )
    assert "the test figure is the one to quote" in told[2]
    assert told[3] == "The cross-validated figure lies within the test figure's interval: the measurements agree."


def test_a_family_selection_did_not_compare_is_said_to_be_one() -> None:
    told = summary.executive(records(train=recordkit.record(TrainRecord, family="lightgbm"))).story
    assert told[0].startswith("LightGBM was not among the families selection compared (Random forest, ")
    assert told[0].endswith("it is the model because training was given it.")
    ensemble = {"method": "greedy", "kept": True, "single": "random_forest", "members": ["random_forest", "logistic"],
                "weights": [0.6, 0.4], "sentence": "kept"}
    told = summary.executive(records(train=recordkit.record(TrainRecord, family="ensemble", ensemble=ensemble))).story
    assert told[0].startswith("The model is an ensemble of Random forest and Logistic regression: training combined")
    second = summary.executive(records(train=recordkit.record(TrainRecord, family="logistic"))).story
    assert second[0].startswith("Logistic regression was kept after tuning: selection shortlisted Random forest and "
                                "Logistic regression of the 6 families it compared")


def test_a_monitor_run_is_summarised_by_its_verdict() -> None:
    found = summary.executive(summary.RunRecords(monitor=recordkit.record(MonitorRecord, verdict="WARN")))
    assert found.title == "Monitoring adult-smoke@1" and found.recommendation == ""
    assert "on 16,281 rows of file adult_test.csv.gz (16,281 with a known outcome)" in found.predicts
    assert found.watch is not None and found.watch.title == "Monitoring verdict: WARN"
    assert summary.executive(summary.RunRecords()) == summary.Executive()


def test_a_monitor_run_says_what_to_do_first() -> None:
    kept = summary.executive(summary.RunRecords(monitor=recordkit.record(MonitorRecord)))
    assert kept.action == "Keep serving" and kept.because.startswith("Nothing the model depends on changed")
    assert kept.predicts.endswith("against the rows it was trained on.") and "training split" not in kept.predicts
    assert kept.watch is not None and "Performance holds: ROC AUC 0.904" in " ".join(kept.watch.reasons)
    assert "roc_auc" not in " ".join([kept.because, kept.changes, kept.predicts, *kept.watch.reasons])
    drifted = "3 of 14 features drifted (age, sex, race): 21%, at least the 20% that means the data changed."
    retrain = summary.executive(summary.RunRecords(monitor=recordkit.record(
        MonitorRecord, verdict="RETRAIN", reasons=[drifted, "Performance holds: roc_auc 0.9."])))
    assert retrain.action == "Retrain" and retrain.because == drifted and "mlworkflow retrain --with" in retrain.changes
    warn = summary.executive(summary.RunRecords(monitor=recordkit.record(MonitorRecord, verdict="WARN")))
    assert warn.action == "Keep serving, but look closer" and warn.because.startswith("No feature drifted")
    assert "monitor again with more rows" in warn.changes and warn.recommendation == ""


def test_a_run_says_how_its_threshold_was_chosen_and_names_metrics_in_group_flags() -> None:
    assert summary.executive(records()).threshold_rule == "the threshold with the highest F1"
    groups = [{**g, "flag": "roc_auc -0.100, log_loss +0.2" if g["group"] == "Female" else ""}
              for g in recordkit.content(EvaluateRecord)["groups"]]
    gaps = check(summary.executive(records(evaluate=recordkit.record(EvaluateRecord, groups=groups))), "group gaps")
    assert gaps.passed is False and "sex = Female: ROC AUC -0.100, Log loss +0.2" in gaps.sentence


def test_without_evaluation_there_is_no_recommendation() -> None:
    found = summary.executive(records(evaluate=None, monitor=None))
    assert found.recommendation == "" and found.checks == [] and found.performance == []
    assert found.story == ["Random forest scored best of the 6 families selection compared."]


def test_cost_and_drivers_are_said_when_evaluate_recorded_them() -> None:
    cost = {"cost_fp": 1.0, "cost_fn": 5.0, "threshold": 0.4, "per_1000": 231.0, "best_threshold": 0.21, "best_per_1000": 180.0}
    drivers = {"method": "shap", "rows": 200, "note": "", "features": [{"feature": "age", "mean_abs_shap": 0.1},
                                                                      {"feature": "sex", "mean_abs_shap": 0.05}]}
    found = summary.executive(records(evaluate=binary(cost=cost, drivers=drivers)))
    assert found.performance[1] == ("Counting a false alarm as 1 and a miss as 5, its errors cost about 231 per 1,000 "
                                    "rows; the cheapest threshold on the test rows (0.210) would cost 180.")
    assert found.performance[-1] == "Its predictions lean most on age and sex (SHAP values)."


def test_equal_error_costs_are_counted_as_wrong_calls() -> None:
    cost = {"cost_fp": 1.0, "cost_fn": 1.0, "threshold": 0.4, "per_1000": 142.4, "best_threshold": 0.532, "best_per_1000": 125.0}
    found = summary.executive(records(evaluate=binary(cost=cost)))
    assert found.performance[1] == "It makes about 142 wrong calls per 1,000 rows; the threshold 0.532 would make 125."


def test_scores_of_another_metric_are_not_set_beside_the_test_figure() -> None:
    told = summary.executive(records(train=recordkit.record(TrainRecord, metric="average_precision"),
                                     select=recordkit.record(SelectRecord, metric="average_precision"))).story
    assert told[1] == "ROC AUC: 0.916 (95% interval 0.882–0.944) on the 400 test rows no earlier step had seen."
    assert len(told) == 2
