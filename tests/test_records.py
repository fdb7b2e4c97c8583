"""The typed records and the catalogue of artifact files: real records round-trip, names agree with the code.

The fixtures in tests/fixtures/records were written by a smoke run of the code before the records were
typed (retrain.json by hand in its shape): reading them is what `--resume` of an older run does.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from pydantic import BaseModel

from mlworkflow import io, records
from mlworkflow.core.features import FeatureSpec
from mlworkflow.core.target import Target
from mlworkflow.errors import RecordError
from mlworkflow.params import STAGES

FIXTURES = Path(__file__).parent / "fixtures" / "records"
LEGACY_METADATA = Path(__file__).parent / "fixtures" / "legacy_registry" / "legacy" / "1" / "metadata.json"
ROOT = Path(__file__).parents[1]
RECORD_TYPES = [entry.model for entry in records.CATALOGUE if entry.model is not None]
FILE_NAME = re.compile(r"""["']([\w.-]+\.(?:json|parquet|skops|sqlite))["']""")


@pytest.mark.parametrize("kind", RECORD_TYPES, ids=lambda kind: kind.__name__)
def test_a_record_written_before_typing_reads_and_round_trips_unchanged(kind: type[BaseModel], tmp_path: Path) -> None:
    name = records.artifact_of(kind).name
    shutil.copy(FIXTURES / name, tmp_path / name)
    store, copy = io.Artifacts(tmp_path), io.Artifacts(tmp_path / "copy")
    record = store.read(kind)
    assert isinstance(record, kind)
    copy.write(record)
    assert json.loads((tmp_path / "copy" / name).read_text(encoding="utf-8")) == json.loads(
        (FIXTURES / name).read_text(encoding="utf-8")
    )
    assert copy.read(kind) == record


def test_every_stage_writes_one_record_and_every_record_one_file() -> None:
    for stage in (*STAGES, "retrain"):
        entry = records.record_of(stage)
        assert entry is not None and entry.name == f"{stage}.json" and entry.kind == "record"
    names = [entry.name for entry in records.CATALOGUE]
    assert len(names) == len(set(names))
    assert {entry.stage for entry in records.CATALOGUE} <= {*STAGES, "retrain"}
    assert records.record_of("nothing") is None
    assert list(records.STAGE_RECORDS) == list(STAGES)
    assert all(records.record_of(stage).model is kind for stage, kind in records.STAGE_RECORDS.items())  # type: ignore[union-attr]


def test_the_preprocess_record_is_a_feature_spec_with_the_same_keys_at_the_top() -> None:
    content = json.loads((FIXTURES / "preprocess.json").read_text(encoding="utf-8"))
    record = records.PreprocessRecord.model_validate(content)
    assert record.spec.features == record.features and record.spec.to_json().items() <= content.items()
    assert type(record.spec) is FeatureSpec


def code_cells(notebook: Path) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")


def test_the_catalogue_covers_every_artifact_file_the_notebooks_and_stages_name() -> None:
    catalogued = {entry.name for entry in records.CATALOGUE}
    texts = [code_cells(path) for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    texts += [path.read_text(encoding="utf-8") for path in sorted((ROOT / "lib" / "mlworkflow" / "stages").glob("*.py"))]
    named = {name for text in texts for name in FILE_NAME.findall(text)}
    assert named <= catalogued, named - catalogued


def test_notebooks_name_no_artifact_file_but_through_the_catalogue() -> None:
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert not FILE_NAME.findall(code_cells(path)), path.name


def test_the_metadata_of_a_bundle_registered_before_typing_reads_and_round_trips_unchanged() -> None:
    content = json.loads(LEGACY_METADATA.read_text(encoding="utf-8"))
    meta = io.parse_record(LEGACY_METADATA, records.BundleMetadata, records.BundleMetadata.written_by)
    assert meta.model_dump() == content
    assert meta.predicted_target == Target("income", "binary", ("<=50K", ">50K"), ">50K")
    assert (meta.threshold_rule, meta.metrics["roc_auc"].baseline, meta.groups[1].group) == ("max_f1", 0.5, "Female")


def test_bundle_metadata_with_a_renamed_field_names_the_file_the_field_and_the_deploy_stage(tmp_path: Path) -> None:
    content = json.loads(LEGACY_METADATA.read_text(encoding="utf-8"))
    content["decision_threshold"] = content.pop("threshold")
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        io.parse_record(path, records.BundleMetadata, records.BundleMetadata.written_by)
    assert (caught.value.path, caught.value.field, caught.value.producer) == (str(path), "threshold", "deploy")
    assert str(caught.value) == (f"artifact {path}: field 'threshold' is missing (the file has 'decision_threshold' "
                                 "instead); it is written by stage 'deploy': re-run it.")
