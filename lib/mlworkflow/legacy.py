"""Renamed names: model files and trusted-type lists written before a name moved keep resolving.

skops records each function and class of a model by module and name (the `__module__` and `__class__`
of every node in the file's `schema.json`) and imports them by those names when it loads; the
registry's `trusted_types.json` lists such qualified names too. When a name recorded this way moves
inside lib/, its old qualified name goes into RENAMED. The registry and `io.read_model` map the names of
a file and of a trusted list through RENAMED before skops sees them, so an old bundle loads and predicts exactly
as before and an old registry trusts the same things under their new names. Hashes stay those of
the original bytes: the file on disk is never rewritten.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from typing import Any

SCHEMA_FILE = "schema.json"  # skops' description of the object tree, inside its zip

# old qualified name → today's, for every top-level function or class that skops files record
RENAMED: dict[str, str] = {
    "mlworkflow.preprocess.as_text": "mlworkflow.core.features.as_text",  # the flat layout, before the packages
    "mlworkflow.stages.preprocess.as_text": "mlworkflow.core.features.as_text",  # the packages, before core/
}


def current_name(name: str) -> str:
    """Today's qualified name for a name a file or a trusted list recorded."""
    return RENAMED.get(name, name)


def current_names(names: Iterable[str]) -> list[str]:
    """Today's names for recorded names, in order, without repeats."""
    return list(dict.fromkeys(current_name(name) for name in names))


def rename_nodes(node: Any) -> int:
    """Rewrite, in place, each skops node whose module and name were renamed; returns how many."""
    if isinstance(node, list):
        return sum(rename_nodes(item) for item in node)
    if not isinstance(node, dict):
        return 0
    renamed = sum(rename_nodes(value) for value in node.values())
    module, name = node.get("__module__"), node.get("__class__")
    if isinstance(module, str) and isinstance(name, str) and f"{module}.{name}" in RENAMED:
        node["__module__"], node["__class__"] = RENAMED[f"{module}.{name}"].rsplit(".", 1)
        renamed += 1
    return renamed


def modernize(data: bytes) -> bytes:
    """The skops bytes with renamed names updated in `schema.json`; the same bytes when none was renamed."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = json.loads(source.read(SCHEMA_FILE))
        if not rename_nodes(schema):
            return data
        target = io.BytesIO()
        with zipfile.ZipFile(target, "w") as rewritten:
            for member in source.infolist():  # every other member byte for byte, with its compression
                content = json.dumps(schema, indent=2).encode() if member.filename == SCHEMA_FILE else source.read(member)
                rewritten.writestr(member, content)
    return target.getvalue()
