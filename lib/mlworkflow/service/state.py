"""The service's state: everything a request needs (model, checks, log, limits), kept on the app."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from fastapi import Request

from mlworkflow.bundle.contract import Validator
from mlworkflow.bundle.predlog import LogError, LogWriter, PredictionLog
from mlworkflow.bundle.registry import LoadedModel
from mlworkflow.params import DeployParams
from mlworkflow.service.coalesce import Coalescer
from mlworkflow.service.predictor import Predictor

logger = logging.getLogger("mlworkflow.service")


@dataclass
class Service:
    """Everything a request needs: the model, its checks, the log, the limits."""

    model: LoadedModel
    params: DeployParams
    predictor: Predictor
    validator: Validator
    log: PredictionLog
    writer: LogWriter
    token: str | None
    coalescer: Coalescer

    probing: threading.Lock = field(default_factory=threading.Lock)

    def log_ready(self) -> bool:
        """Whether a prediction can be logged now: the writer runs and the log takes a row.

        One probe at a time: while one waits (a long commit holds the log), the latest commit's outcome answers.
        """
        if not self.writer.thread.is_alive():
            logger.error("not ready: the prediction log writer is not running")
            return False
        if not self.probing.acquire(blocking=False):
            return self.writer.last_error is None
        try:
            self.log.probe()
        except LogError as exc:
            logger.error("not ready: %s", exc)
            return False
        finally:
            self.probing.release()
        return True

    @property
    def ref(self) -> dict[str, str]:
        """The served model's name and version."""
        return {"name": self.model.entry.name, "version": self.model.entry.version}


def build(model: LoadedModel, params: DeployParams, log_url: str, token: str | None) -> Service:
    """The Service of one loaded bundle (its log writer not yet started)."""
    predictor = Predictor(model.pipeline, model.metadata, model.contract, params.fast_path_rows)
    log = PredictionLog(log_url)
    return Service(model, params, predictor, Validator(model.contract, params.unseen_categories), log,
                   LogWriter(log), token or None, Coalescer(predictor))


def service_of(request: Request) -> Service:
    """The app's Service."""
    service: Service = request.app.state.service
    return service
