"""Presentation for stage `select`: the plan, the candidates, the ranking, costs, notes and per-fold plots."""

from __future__ import annotations

from matplotlib.figure import Figure

from mlworkflow.params import SelectParams
from mlworkflow.records import Ranked, SelectRecord
from mlworkflow.stages import select
from mlworkflow.views import select as view
from mlworkflow.views.labels import family_label
from tests.core.test_families import tiny
from tests.stages.test_select import FAST, run


def test_tables_and_plots_for_the_notebook() -> None:
    summary = run("binary")
    ranking = summary.model_dump()["ranking"]
    table = view.ranking_table(ranking, summary.metrics)
    assert list(table.columns[:3]) == ["status", "ROC AUC", "Average precision"]
    assert table.iloc[0]["gap"] == "0.0000" and table.iloc[0]["significantly worse"] == "no"
    assert list(view.cost_table(ranking).columns) == [
        "folds run",
        "fit s / fold",
        "predict s / fold",
        "peak MiB",
    ]
    folds = view.fold_frame(summary)
    assert len(folds) == 6 * len(FAST) and folds["family"].iloc[0] == summary.ranking[0].family
    assert list(table.index) == [family_label(row.family) for row in summary.ranking]
    for figure in (view.plot_scores(summary), view.plot_tradeoff(summary)):
        assert isinstance(figure, Figure) and figure.axes


def test_plan_and_pipeline_tables_describe_the_comparison() -> None:
    _, _, spec = tiny("regression")
    plan = select.plan(SelectParams(candidates=("svm", "naive_bayes")), "regression")
    shown = view.plan_table(plan, 100, 50)
    assert shown["skipped"] == "Naive Bayes (classification only, not for regression)"
    assert shown["candidates"] == "Support vector machine" and shown["deciding metric"] == "Root mean squared error"
    assert shown["training rows used"] == "50 of 100 (seeded subsample)"
    described = view.pipeline_table(select.build_candidates(spec, plan.candidates, 0))
    assert described.loc["Support vector machine", "model"] == "TransformedTargetRegressor(SVR)"


def test_notes_table_lists_skipped_families_then_each_failure_and_warning() -> None:
    failed = Ranked(family="knn", status="failed", message="ValueError on fold 1: bad", folds=0, score=None,
                    score_std=None, metrics={}, fit_s=None, predict_s=None, peak_mb=None, gap=None, p_value=None,
                    significant=None, notes=["a warning"])
    summary = SelectRecord.model_construct(skipped={"naive_bayes": "classification only"}, ranking=[failed])
    assert view.notes_table(summary)["note"].tolist() == [
        "skipped: classification only", "ValueError on fold 1: bad", "a warning"]


def test_the_steps_tables_and_the_calibration_plot() -> None:
    from tests.stages.test_select import run_with_steps

    summary = run_with_steps("model", "smote")
    effect = view.effect_table(summary)
    assert list(effect.columns) == ["with steps", "without"]
    assert "Brier score (lower is better)" in effect.index and "±" in effect.iloc[0, 0]
    assert set(view.steps_table(summary).index) == {"Logistic regression", "Nearest neighbours"}
    figure = view.plot_calibration(summary)
    assert isinstance(figure, Figure) and len(figure.axes[0].lines) == 3
    plain = run("binary")
    assert view.effect_table(plain).empty and view.steps_table(plain).empty and view.plot_calibration(plain) is None


def test_the_pipeline_table_names_the_steps_between_the_transformer_and_the_model() -> None:
    from mlworkflow.core.features import TransformerSettings

    _, _, spec = tiny("binary")
    spec = spec.model_copy(update={"transformer": TransformerSettings(feature_selection="model", imbalance="smote")})
    described = view.pipeline_table(select.build_candidates(spec, ("logistic",), 0))
    assert described.loc["Logistic regression", "steps"] == "resample: FunctionSampler; select: SelectFromModel"
    assert "steps" not in view.pipeline_table(select.build_candidates(tiny("binary")[2], ("logistic",), 0)).columns


def test_the_choice_table_says_how_the_folds_were_set_and_why_the_first_family_was_chosen() -> None:
    summary = run("binary", ("logistic", "naive_bayes"), repeats="auto")
    shown = view.choice_table(summary)
    assert shown["folds × repeats"] == "3 × 10 on 120 rows"
    assert shown["repeats rule"].startswith("auto: 10 repeats of 3 folds, so that 120 rows × repeats")
    assert "vary least" in shown["stability rule"]
    assert summary.stability is not None and shown["choice"] == summary.stability.sentence
    cut = summary.model_copy(update={"cv": summary.cv.model_copy(update={"repeats": 4})})
    assert view.choice_table(cut)["folds × repeats"] == "3 × 4 of 10 planned (time budget) on 120 rows"
    older = summary.model_copy(update={"stability": None, "cv": summary.cv.model_copy(update={"rule": None})})
    assert view.choice_table(older)["choice"] == "—" and view.choice_table(older)["repeats rule"] == "—"
