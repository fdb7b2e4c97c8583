"""The toolkit's errors: one base class, narrow subclasses with structured fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest choice, or ''."""
    match = get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{match[0]}'?" if match else ""


class MlwError(Exception):
    """Base class of every error mlworkflow raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle the message and the structured fields as they are: unpickling re-calling a subclass's
        # __init__ with the message alone would fail, so an error raised in a worker process (n_jobs)
        # would reach the parent as an unpickling TypeError instead of itself.
        return _rebuilt, (type(self), self.args), self.__dict__


def _rebuilt(cls: type[MlwError], args: tuple[Any, ...]) -> MlwError:
    """An error of `cls` with the message `args`, bypassing `__init__` (pickle then restores its fields)."""
    return cls.__new__(cls, *args)


@dataclass(frozen=True)
class ParamsIssue:
    """One problem in a params file: where, what was expected, what was found."""

    key: str
    expected: str
    found: str
    hint: str = ""

    def __str__(self) -> str:
        return f"key '{self.key}': expected {self.expected}, found {self.found}.{self.hint}"


class ParamsError(MlwError):
    """A params file (or --set override) does not match the schema."""

    def __init__(self, source: str, issues: Sequence[ParamsIssue]) -> None:
        self.source = source
        self.issues = tuple(issues)
        lines = [f"{source}: {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))

    def with_source(self, source: str) -> ParamsError:
        """The same issues, said of another source (a stage's section becomes the params file it came from)."""
        return ParamsError(source, self.issues)


class DataError(MlwError):
    """The data cannot be used: names the column (if any) and the reason."""

    def __init__(self, reason: str, column: str | None = None, source: str | None = None) -> None:
        self.reason = reason
        self.column = column
        self.source = source
        where = f"{source}: " if source else ""
        what = f"column '{column}': " if column else ""
        super().__init__(f"{where}{what}{reason}")


class ArtifactError(MlwError):
    """A stage's input artifact is missing: an earlier stage has not run."""

    def __init__(self, path: str, producer: str) -> None:
        self.path = path
        self.producer = producer
        super().__init__(f"artifact {path} not found: run stage '{producer}' first.")


class RecordError(ArtifactError):
    """A stage's JSON record does not match its schema: names the file, the field and the stage that wrote it."""

    def __init__(self, path: str, producer: str, field: str, problem: str) -> None:
        MlwError.__init__(
            self, f"artifact {path}: field '{field}' {problem}; it is written by stage '{producer}': re-run it."
        )
        self.path, self.producer, self.field, self.problem = path, producer, field, problem


class StageError(MlwError):
    """A stage notebook failed while the runner executed it."""

    def __init__(
        self, stage: str, cell: int | None, ename: str, evalue: str, report: str, resume: str
    ) -> None:
        self.stage, self.cell, self.ename, self.evalue = stage, cell, ename, evalue
        self.report, self.resume = report, resume
        where = f"cell {cell}" if cell is not None else "before any cell ran"
        super().__init__(
            f"stage '{stage}' failed at {where}: {ename}: {evalue} | report: {report} | resume: {resume}"
        )
