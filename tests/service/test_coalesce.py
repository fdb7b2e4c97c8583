"""Model calls: a model that cannot score rows is a 422; coalesced calls give each request exactly the numbers
it gets alone (one bad request fails alone), and under load every request is answered and logged once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from mlworkflow.bundle.contract import Validator
from mlworkflow.bundle.predlog import PredictionLog
from mlworkflow.service.app import create_app
from mlworkflow.service.coalesce import Coalescer, predict_rows
from mlworkflow.service.predictor import Outputs, Predictor
from mlworkflow.service.problems import Problem
from tests import servekit as kit

LOAD_REQUESTS, LOAD_CLIENTS = 5000, 16


@pytest.fixture(scope="module")
def forest(tmp_path_factory: pytest.TempPathFactory) -> kit.Tiny:
    """A gradient-boosting model: its small requests share model calls under load."""
    return kit.tiny_model(tmp_path_factory.mktemp("forest"), family="hist_gradient_boosting", rows=400)


def test_load_every_request_answered_and_logged_once(forest: kit.Tiny, log_url: str) -> None:
    records = forest.records(200)
    predictor = Predictor(forest.model.pipeline, forest.model.metadata, forest.contract, 32)
    rows = Validator(forest.contract, "reject").records(records).rows
    alone = [predictor.predict([row]).scores[0].tolist() for row in rows]  # type: ignore[index]
    bodies = [json.dumps(records[i % len(records)]).encode() for i in range(LOAD_REQUESTS)]
    app = create_app(forest.model, kit.params(), log_url)
    with kit.running(app) as url:
        answers = asyncio.run(kit.post_many(url, "/predict", bodies, LOAD_CLIENTS))
    assert len(answers) == LOAD_REQUESTS and {status for _, status, _ in answers} == {200}
    ids = set()
    for index, _, body in answers:
        (prediction,) = body["predictions"]
        ids.add(prediction["id"])
        assert list(prediction["probabilities"].values()) == alone[index % len(records)]  # exact, even when batched
    log = PredictionLog(log_url)
    assert log.count() == LOAD_REQUESTS == len(ids)
    assert set(log.frame()["id"]) == ids
    log.close()


def checked_rows(model: kit.Tiny, n: int) -> list[list[Any]]:
    """n checked rows of the model's contract."""
    return Validator(model.contract, "reject").records(model.records(n)).rows


def test_a_model_that_cannot_score_the_rows_is_a_422(forest: kit.Tiny) -> None:
    predictor = Predictor(forest.model.pipeline, forest.model.metadata, forest.contract, 0)
    broken = [["not a number"] * len(forest.contract.names)]
    with pytest.raises(Problem, match="the model cannot score these records") as error:
        predict_rows(predictor, broken)
    assert (error.value.status, error.value.issues[0].rule) == (422, "model_input")


def test_coalesced_requests_get_their_own_numbers_and_a_bad_one_fails_alone(forest: kit.Tiny) -> None:
    predictor = Predictor(forest.model.pipeline, forest.model.metadata, forest.contract, 32)
    assert predictor.row_wise
    rows = checked_rows(forest, 3)
    broken = [["not a number"] * len(forest.contract.names)]

    async def together() -> list[Outputs | BaseException]:
        coalescer = Coalescer(predictor)
        requests = [coalescer.predict(rows[:1]), coalescer.predict(broken), coalescer.predict(rows[1:])]
        return await asyncio.gather(*requests, return_exceptions=True)

    first, bad, rest = asyncio.run(together())
    assert isinstance(bad, Problem) and bad.status == 422
    assert isinstance(first, Outputs) and isinstance(rest, Outputs)
    alone = predictor.predict(rows).scores
    assert first.scores is not None and rest.scores is not None and alone is not None
    assert [*first.scores.tolist(), *rest.scores.tolist()] == alone.tolist()
