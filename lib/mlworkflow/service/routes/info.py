"""`GET /health` (liveness) and `GET /model` (card, contract, version, how it was built)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from mlworkflow.service.state import service_of


async def health(request: Request) -> Response:
    """Liveness, and which model is served."""
    service = service_of(request)
    return JSONResponse({"status": "ok", "model": service.model.entry.name, "version": service.model.entry.version})


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
