"""GET /health and GET /model over real HTTP."""

from __future__ import annotations

import httpx2


def test_health_and_model_info(client: httpx2.Client) -> None:
    assert client.get("/health").json() == {"status": "ok", "model": "tiny", "version": "1"}
    info = client.get("/model").json()
    assert (info["name"], info["version"], info["task"], info["threshold"]) == ("tiny", "1", "binary", 0.4)
    assert info["card"].startswith("# Model card") and info["fast_path"] == "on for up to 1000 rows"
    assert [c["name"] for c in info["contract"]["columns"]][:2] == ["age", "fnlwgt"]
    assert info["aliases"] == ["champion"] and len(info["sha256"]) == 64
