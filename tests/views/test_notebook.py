"""The notebook set-up: params errors of later cells are shown as the params file's."""

from __future__ import annotations

import re
from collections.abc import Iterator

import IPython
import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlworkflow.views import notebook


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    yield shell
    shell.set_custom_exc((), None)
    InteractiveShell.clear_instance()


ANSI = re.compile(r"\x1b\[[0-9;]*m")
RAISE = (
    "from mlworkflow.errors import ParamsError, ParamsIssue\n"
    "raise ParamsError('train', [ParamsIssue('train.n_iter', 'at most 5', '8')])"
)


def test_a_params_error_of_a_later_cell_names_the_params_file(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook.name_params_file("params/smoke.yaml")
    shell.run_cell(RAISE)
    shown = ANSI.sub("", capsys.readouterr().out)
    assert "ParamsError: params/smoke.yaml: key 'train.n_iter': expected at most 5, found 8." in shown
    assert "train: key" not in shown


def test_without_a_params_file_the_error_is_shown_as_raised(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook.name_params_file("")
    shell.run_cell(RAISE)
    shown = ANSI.sub("", capsys.readouterr().out)
    assert "ParamsError: train: key 'train.n_iter': expected at most 5, found 8." in shown


def test_outside_ipython_nothing_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    notebook.name_params_file("params/smoke.yaml")  # no shell: nothing to do, nothing raised
