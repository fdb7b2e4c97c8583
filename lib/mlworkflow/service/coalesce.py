"""Model calls: one request's rows (a model that cannot score them is a 422), and small requests coalesced."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from mlworkflow.service.predictor import Outputs, Predictor
from mlworkflow.service.problems import Problem, problem


def predict_rows(predictor: Predictor, rows: list[list[Any]]) -> Outputs:
    """Predict, turning a model that cannot score valid-looking input into a 422 (never a 500)."""
    try:
        return predictor.predict(rows)
    except ValueError as exc:
        raise problem(422, "model_input", f"the model cannot score these records: {exc}") from None


class Coalescer:
    """Small requests waiting at the same moment share one model call (row-wise models only).

    A request queues its rows and the first one schedules a flush on the event loop; requests that
    arrive before the loop gets to it join the same call. The model scores every row on its own
    (`Predictor.row_wise`), so each request gets exactly the numbers it would get alone. If the joint
    call fails, each request is scored alone, so one bad request cannot fail the others.
    """

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.pending: list[tuple[list[list[Any]], asyncio.Future[Outputs]]] = []

    async def predict(self, rows: list[list[Any]]) -> Outputs:
        """Predictions for one request's rows."""
        if not self.predictor.row_wise:
            return predict_rows(self.predictor, rows)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outputs] = loop.create_future()
        self.pending.append((rows, future))
        if len(self.pending) == 1:
            loop.call_soon(self.flush)
        return await future

    def flush(self) -> None:
        """Score everything queued in one call and hand each request its part."""
        batch, self.pending = self.pending, []
        try:
            results = self.predictor.predict_each([rows for rows, _ in batch])
            for (_, future), outputs in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(outputs)
        except ValueError:
            self.alone(batch)
        finally:  # an unexpected error still answers every waiting request (as a server error)
            for _, future in batch:
                if not future.done():
                    future.set_exception(RuntimeError("the model call failed"))

    def alone(self, batch: Sequence[tuple[list[list[Any]], asyncio.Future[Outputs]]]) -> None:
        """Score each request by itself (after a joint call failed)."""
        for rows, future in batch:
            if future.done():
                continue
            try:
                future.set_result(predict_rows(self.predictor, rows))
            except Problem as exc:
                future.set_exception(exc)
