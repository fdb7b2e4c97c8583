"""Human names for model families and metrics (core/names.py's, for views), and numbers written as a reader expects
them."""

from __future__ import annotations

import math
from typing import Any

from mlworkflow.core import names

FAMILIES: dict[str, str] = names.FAMILIES
METRICS: dict[str, str] = {key: names.metric_label(key) for key in sorted(names.metric_keys())}  # every known key
MISSING = "—"
readable = names.readable
family_label = names.family_label
metric_label = names.metric_label
in_words = names.in_words
setting = names.setting
unset = names.unset
threshold_rule_label = names.threshold_rule_label


def _missing(x: Any) -> bool:
    """True for None, NaN and pandas' NA, which a page shows as a dash."""
    if x is None:
        return True
    try:
        return bool(x != x)  # NaN and pd.NA are not equal to themselves
    except TypeError:  # pd.NA refuses bool()
        return True


def percent(x: Any, digits: int = 1) -> str:
    """A share (0.0564) as a percentage ('5.6%'); a missing value is '—'."""
    if _missing(x):
        return MISSING
    return f"{float(x) * 100:,.{digits}f}%"


def number(x: Any) -> str:
    """A number rounded to what it means: counts with thousands separators, scores to three decimals, else three
    significant digits (a score that may be exactly 1 reads better through `score`)."""
    if _missing(x):
        return MISSING
    if isinstance(x, bool) or type(x).__name__ in ("bool", "bool_"):  # NumPy 2 names its bool "bool"
        return "yes" if x else "no"
    value = float(x)
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value == int(value) and (isinstance(x, int) or abs(value) >= 1000 or _integral_type(x)):
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    if abs(value) >= 0.1:  # scores: three decimals, so 0.9996 stays below 1
        return f"{value:.3g}" if abs(value) >= 1 else f"{value:.3f}"
    return f"{value:.3g}" if value else "0"


def score(x: Any) -> str:
    """A score or metric value to three decimals, 1 included ('1.000' beside '0.999', where `number` would write a
    count's '1'); a missing, infinite or large value (100 and more) as `number` writes it."""
    if _missing(x) or isinstance(x, bool) or math.isinf(float(x)) or abs(float(x)) >= 100:
        return number(x)
    text = f"{float(x):.3f}"
    return "0.000" if text == "-0.000" else text


def _integral_type(x: Any) -> bool:
    """True for NumPy's integer scalars, which are counts even below 1,000."""
    return type(x).__name__.startswith(("int", "uint"))


KINDS = (("bool", "yes/no"), ("int", "whole number"), ("uint", "whole number"), ("float", "number"),
         ("datetime", "date and time"), ("timedelta", "duration"), ("category", "category"), ("object", "text"),
         ("str", "text"), ("string", "text"))


def kind_label(dtype: Any) -> str:
    """What a column holds in words, from its pandas dtype: 'int64' → 'whole number', 'object' → 'text'."""
    name = str(dtype)
    return next((label for prefix, label in KINDS if name.lower().startswith(prefix)), readable(name))
