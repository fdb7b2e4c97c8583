"""`GET /health` (readiness), `GET /live` (liveness) and `GET /model` (card, contract, version, how it was built)."""

from __future__ import annotations

from anyio import move_on_after, to_thread
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from mlworkflow.service.state import service_of

READY_TIMEOUT_S = 0.5  # a probe still waiting then (the log busy with a commit) leaves the latest commit's outcome


async def health(request: Request) -> Response:
    """Readiness: 200 when the model is loaded and the prediction log takes a write, 503 otherwise."""
    service = service_of(request)
    writable = service.writer.last_error is None  # should the probe wait past the timeout (a long commit)
    with move_on_after(READY_TIMEOUT_S):
        writable = await to_thread.run_sync(service.log_ready, abandon_on_cancel=True)
    checks = {"model": "loaded", "prediction_log": "writable" if writable else "cannot be written"}
    entry = service.model.entry
    body = {"status": "ok" if writable else "unavailable", "model": entry.name, "version": entry.version, "checks": checks}
    return JSONResponse(body, status_code=200 if writable else 503)


async def live(request: Request) -> Response:
    """Liveness: the server answers (the log is not checked: a database outage is no reason to restart)."""
    service = service_of(request)
    return JSONResponse({"status": "alive", "model": service.model.entry.name, "version": service.model.entry.version})


async def model_info(request: Request) -> Response:
    """The model card, the input contract, the version and how it was built."""
    service = service_of(request)
    entry, target = service.model.entry, service.predictor.target
    return JSONResponse({
        **service.ref, "sha256": entry.sha256, "aliases": list(entry.aliases), "registered": entry.created,
        "packages": entry.packages, "task": target.task, "classes": list(target.classes),
        "positive_class": target.positive, "threshold": service.predictor.labelling.threshold,
        "unseen_categories": service.params.unseen_categories, "fast_path": service.predictor.fast_note,
        "metrics": service.model.metadata.model_dump()["metrics"],
        "contract": service.model.contract.model_dump(mode="json"), "card": service.model.card,
    })
