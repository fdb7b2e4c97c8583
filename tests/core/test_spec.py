"""The feature spec as plain data: its JSON round trip, its checks, and that reading it needs no scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlworkflow.core.spec import FeatureSpec
from mlworkflow.errors import DataError


def test_spec_round_trips_through_json_and_ignores_extra_keys() -> None:
    spec = FeatureSpec(target="y", task="binary", classes=("a", "b"), numeric=("x",), categorical=("c",))
    data = {**spec.to_json(), "headline": {"rows": 3}, "dropped": {}}
    assert FeatureSpec.from_json(data) == spec
    assert data["transformer"] == {
        "numeric_imputer": "median",
        "scale": True,
        "min_frequency": 0.01,
        "max_categories": 30,
    }  # the text settings are left out while they are the defaults
    assert "text" not in data
    with_text = FeatureSpec(target="y", task="binary", text=("t",), transformer={"text_components": 8})
    assert FeatureSpec.from_json(with_text.to_json()) == with_text
    assert with_text.to_json()["text"] == ["t"] and with_text.to_json()["transformer"]["text_components"] == 8
    assert spec.features == ("x", "c")


def test_spec_from_json_names_the_missing_key() -> None:
    with pytest.raises(DataError, match=r"preprocess.json: .*numeric.*categorical|preprocess.json: .*task"):
        FeatureSpec.from_json({"target": "y", "numeric": ["x"]})


def test_spec_rejects_overlapping_features() -> None:
    with pytest.raises(DataError, match="disjoint"):
        FeatureSpec.from_json({"target": "y", "task": "binary", "numeric": ["x"], "categorical": ["x"]})


def test_spec_needs_a_feature() -> None:
    with pytest.raises(DataError, match="at least one"):
        FeatureSpec.from_json({"target": "y", "task": "regression"})


def test_levels_round_trip_and_stay_out_of_older_records() -> None:
    spec = FeatureSpec(target="y", task="binary", categorical=("c",), levels=12)
    assert FeatureSpec.from_json(spec.to_json()).levels == 12
    assert "levels" not in FeatureSpec(target="y", task="binary", categorical=("c",)).to_json()


def test_reading_a_spec_or_a_record_imports_neither_scikit_learn_nor_pandas() -> None:
    code = ("import json, sys\nfrom mlworkflow import records\nfrom mlworkflow.core.spec import FeatureSpec\n"
            "FeatureSpec.from_json({'target': 'y', 'task': 'binary', 'numeric': ['x']})\n"
            "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = set(json.loads(done.stdout))
    assert "mlworkflow" in loaded and not loaded & {"sklearn", "pandas", "scipy", "pyarrow"}
