"""Where stage `monitor`'s inputs come from: the deployed model, its run's splits, a batch file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlworkflow import io
from mlworkflow.errors import ArtifactError, DataError, RecordError
from mlworkflow.params import MonitorParams
from mlworkflow.stages import monitor_sources as sources
from tests import servekit as kit


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> kit.Tiny:
    return kit.tiny_model(tmp_path_factory.mktemp("registry"))


def test_a_batch_file_is_ordered_by_its_time_column(tiny: kit.Tiny, tmp_path: Path) -> None:
    batch = tiny.rows.head(6).assign(when=pd.date_range("2026-01-01", periods=6, freq="D")[::-1])
    batch.to_csv(tmp_path / "batch.csv", index=False)
    params = MonitorParams(current=str(tmp_path / "batch.csv"), time_column="when")
    current = sources.current_from_file(str(tmp_path / "batch.csv"), tiny.model, params)
    assert current.times is not None and current.times.is_monotonic_increasing
    assert current.labels.tolist() == batch["income"].tolist()[::-1] and current.labelled == 6
    with pytest.raises(DataError, match="column 'then'"):
        sources.current_from_file(str(tmp_path / "batch.csv"), tiny.model, MonitorParams(time_column="then"))


def test_without_a_deployed_model_or_its_run_the_messages_say_what_to_set(tiny: kit.Tiny, tmp_path: Path) -> None:
    store = io.Artifacts(tmp_path)
    with pytest.raises(ArtifactError, match=r"deploy\.json \(or set monitor\.model"):
        sources.resolve(MonitorParams(), store)
    params = MonitorParams(model="tiny@champion", registry=str(tiny.registry.root))
    with pytest.raises(DataError, match=r"has no train\.parquet here.*set monitor\.reference"):
        sources.resolve(params, store)


def test_a_damaged_deploy_record_is_named_not_taken_for_a_missing_one(tmp_path: Path) -> None:
    (tmp_path / "deploy.json").write_text('{"ref": "m@1"}', encoding="utf-8")
    with pytest.raises(RecordError, match=r"deploy\.json: field '\w+' is missing; .*stage 'deploy'"):
        sources.resolve(MonitorParams(), io.Artifacts(tmp_path))


def test_resolve_reads_the_reference_file_and_the_current_file(tiny: kit.Tiny, tmp_path: Path) -> None:
    tiny.train.to_csv(tmp_path / "reference.csv", index=False)
    tiny.rows.head(30).to_csv(tmp_path / "current.csv", index=False)
    params = MonitorParams(model="tiny@champion", registry=str(tiny.registry.root),
                           reference=str(tmp_path / "reference.csv"), current=str(tmp_path / "current.csv"))
    inputs = sources.resolve(params, io.Artifacts(tmp_path))
    assert (inputs.model.entry.ref, inputs.reference_source, inputs.current.rows) == ("tiny@1", "reference.csv", 30)
    assert inputs.held_out is inputs.reference and list(inputs.reference.columns) == list(tiny.contract.names)


def test_a_batch_file_is_read_with_the_reader_options_the_model_kept(tiny: kit.Tiny, tmp_path: Path) -> None:
    import dataclasses

    from mlworkflow.params import ReadOptions

    model = dataclasses.replace(tiny.model, contract=tiny.contract.model_copy(
        update={"read": ReadOptions(sep=";", decimal=",", encoding="latin-1")}))
    batch = tiny.rows.head(6)
    (tmp_path / "batch.csv").write_bytes(batch.to_csv(index=False, sep=";", decimal=",").encode("latin-1"))
    current = sources.current_from_file(str(tmp_path / "batch.csv"), model, MonitorParams())
    expected = batch[list(tiny.contract.names)].reset_index(drop=True)
    numeric = [c.name for c in tiny.contract.columns if c.kind != "string"]
    pd.testing.assert_frame_equal(current.frame[numeric].astype(float), expected[numeric].astype(float))
