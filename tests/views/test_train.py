"""Presentation for stage `train`: the plan, the final model in words, the search and curve plots."""

from __future__ import annotations

import dataclasses

import pandas as pd
from matplotlib.figure import Figure

from mlworkflow.core.searches import SearchResult
from mlworkflow.params import TrainParams
from mlworkflow.stages import train
from mlworkflow.views import train as view
from mlworkflow.views.labels import family_label
from tests.stages.test_train import FAST, standard, tiny


def tuned(result: SearchResult) -> SearchResult:
    """The search without its defaults trial, so its best trial is a tuned one (the defaults stay the choice when
    no trial clearly beats them, and the tiny frame's grid does not)."""
    return dataclasses.replace(result, trials=tuple(t for t in result.trials if t.params))


def test_search_plot_for_sequential_and_halving_searches() -> None:
    searched = standard("binary", "optuna")
    title = view.plot_search(searched).axes[0].get_title()
    assert title == f"{family_label(searched.family)}: Bayesian search (Optuna, TPE sampler)" and "_" not in title
    assert isinstance(view.plot_search(standard("binary", "halving")), Figure)
    labels = train.curve_frame("max_depth", [None, 8], [[0.8], [0.9]], [[0.7], [0.8]], "roc_auc")
    assert labels["max_depth"].tolist() == [None, 8]
    figure = view.plot_curve(labels, "roc_auc", "categorical axis", mark=8)
    assert [line.get_xdata()[0] for line in figure.axes[0].lines][-1] == 1.0  # the tuned value's tick
    assert view.mark_position(0.5, None) == 0.5 and view.mark_position("x", ["a"]) is None
    result = tuned(standard("binary", "grid"))
    best = result.best
    assert best is not None and view.tuned_value(result, "C") == best.params["model__C"]
    assert view.tuned_value(result, "gamma") is None


def test_plan_table_says_what_the_stage_will_do() -> None:
    params = TrainParams.model_validate({**FAST, "search": "optuna", "time_budget_s": 30})
    plan = view.plan_table(["logistic", "knn"], "neg_log_loss", params, 90)["plan"]
    assert plan["families"] == "Logistic regression, Nearest neighbours" and plan["search"] == "Bayesian search (Optuna, TPE sampler)"
    assert plan["metric"] == "Log loss (lower is better)" and plan["candidates"] == "4 per family"
    assert (plan["cross-validation"], plan["time budget"]) == ("2 folds over 90 training rows", "30 s for all searches")


def test_final_summary_describes_the_saved_pipeline() -> None:
    X, y, spec = tiny("binary")
    result = tuned(standard("binary", "grid"))
    model = train.fit_final(spec, result, X, y, seed=0)
    summary = view.final_summary(result, model, model, X)["final model"]
    assert summary["estimator"] == "LogisticRegression" and summary["fitted on rows"] == len(X)
    assert summary["reloaded model predicts identically"] is True and "C" in summary


def test_steps_table_names_the_kept_features() -> None:
    from tests.stages.test_train import final_with_steps

    spec, model, result = final_with_steps("permutation", "undersample")
    record = train.record(result, [result], {}, steps=train.step_choice(spec, "logistic", model))
    table = view.steps_table(record)["final model"]
    assert record.steps is not None
    assert table[f"features kept ({len(record.steps.kept)})"] == ", ".join(record.steps.kept)
    assert table["class imbalance"].startswith("undersample: the larger classes")
    plain = train.record(result, [result], {})
    assert view.steps_table(plain)["final model"].tolist() == ["no feature selection, no imbalance handling"]


def test_search_table_names_families_and_searches() -> None:
    result = standard("binary", "optuna")
    table = view.search_table([result])
    assert list(table.index) == [family_label(result.family)]
    assert table["search"].tolist() == ["Bayesian search (Optuna, TPE sampler)"]
    assert table.columns.tolist() == train.search_table([result]).columns.tolist()


def test_curve_titles_name_the_family_in_words() -> None:
    curve = pd.DataFrame({"training rows": [100, 200], "train": [0.9, 0.88], "train sd": [0.01, 0.01],
                          "validation": [0.8, 0.82], "validation sd": [0.02, 0.02]})
    figure = view.plot_curve(curve, "roc_auc", "Learning curve · random_forest")
    assert figure.axes[0].get_title() == "Learning curve · Random forest"
