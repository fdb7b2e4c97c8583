"""The model registry: versioned bundles in `<root>/<name>/<version>/`, checked before they load.

Each model name has an index, `<root>/<name>/registry.json`, recording per version the SHA-256 of
every bundle file and of the bundle as a whole, the package versions it was built with, when it
was registered, and the aliases (`champion`, `challenger`) pointing at versions. Loading a version
re-hashes its files against the index, refuses a scikit-learn version other than the one it was
built with (unless told otherwise), and loads the skops file trusting only the types listed in
`<root>/trusted_types.json` — a list the registry keeps, never one read from the artifact.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlworkflow import io, legacy, provenance
from mlworkflow.errors import MlwError, did_you_mean
from mlworkflow.records import BundleMetadata, DeployRecord

if TYPE_CHECKING:  # imported where a bundle is loaded: resolving a version (a re-run's cache check) needs neither
    import pandas as pd

    from mlworkflow.bundle.contract import Contract

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
CONTRACT_FILE = "contract.json"
CARD_FILE = "card.md"
BUNDLE_FILES = (MODEL_FILE, METADATA_FILE, CONTRACT_FILE, CARD_FILE)
INDEX_FILE = "registry.json"
TRUSTED_FILE = "trusted_types.json"
ALIASES = ("champion", "challenger")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PACKAGES = ("scikit-learn", "numpy", "scipy", "pandas", "skops", "mlworkflow")
# Types skops does not trust by default that mlworkflow's pipelines contain (every family, every task,
# k-NN's search trees included), as the catalogues declare them: reviewed, and listed so a new registry
# starts with them. Tree types are in the list because the registry only loads files whose SHA-256 it
# recorded itself (see skops' note on crafted tree node indices). An ensemble adds the Bunch of its members.


@functools.cache
def default_trusted() -> tuple[str, ...]:
    """The reviewed list a new registry starts with (a function: collecting it imports every step's library)."""
    from mlworkflow.core import ensemble, families, features

    return tuple(sorted({*features.TRUSTED_TYPES, *families.trusted_types(), *ensemble.TRUSTED_TYPES}))


class RegistryError(MlwError):
    """The registry cannot register, find, check or load a bundle; the message says what to do."""


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
BundleFile = Literal["model.skops", "metadata.json", "contract.json", "card.md"]


class IndexedVersion(BaseModel):
    """One version as registry.json records it (file names are the bundle's, so none points elsewhere)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    sha256: Sha256
    files: dict[BundleFile, Sha256]
    packages: dict[str, str]
    created: str
    source: dict[str, Any] = {}


class IndexFile(BaseModel):
    """registry.json: the name, its versions by number, and the aliases pointing at them."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    versions: dict[str, IndexedVersion]
    aliases: dict[str, str]


INDEX_SHAPE = (
    "a registry index: a JSON object with 'name' (the folder's name), 'versions' (an object of version numbers, "
    "each with sha256, files, packages, created) and 'aliases' (an object of alias → version)"
)


def read_json(path: Path, expected: str) -> Any:
    """A registry file's JSON, or a RegistryError naming the file, what was expected and what was found."""
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{path}: expected {expected}, found a byte at offset {exc.start} that is not UTF-8") from None
    except json.JSONDecodeError as exc:
        found = f"invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        raise RegistryError(f"{path}: expected {expected}, found {found}") from None


def checked_index(data: Any, path: Path, name: str) -> dict[str, Any]:
    """An index read from `path`, checked against its shape and its folder's name (a RegistryError if not)."""
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: expected {INDEX_SHAPE}; found a JSON {type(data).__name__}")
    try:
        index = IndexFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise RegistryError(f"{path}: expected {INDEX_SHAPE}; found at '{where}': {error['msg']}") from None
    problem = index_problem(index, name)
    if problem:
        raise RegistryError(f"{path}: expected {INDEX_SHAPE}; found {problem}")
    return dict(data)


def index_problem(index: IndexFile, name: str) -> str:
    """What makes a well-shaped index inconsistent: another name, a version that is not a number, a dangling alias."""
    if index.name != name:
        return f"the name {index.name!r} in the folder of {name!r}"
    bad = [v for v in index.versions if not v.isdigit() or v != str(int(v))]
    if bad:
        return f"the version {bad[0]!r}, which is not a number"
    dangling = [a for a, v in index.aliases.items() if v not in index.versions]
    return f"the alias {dangling[0]!r} pointing at no version" if dangling else ""


@dataclass(frozen=True)
class Version:
    """One registered version: its hashes, the packages it was built with, and its aliases."""

    name: str
    version: str
    sha256: str
    files: dict[str, str]
    packages: dict[str, str]
    created: str
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """The version's reference, `name@version`."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class LoadedModel:
    """A verified, loaded bundle: the fitted pipeline and what the service needs around it."""

    entry: Version
    pipeline: Any
    metadata: BundleMetadata
    contract: Contract
    card: str


def sha256_bytes(data: bytes) -> str:
    """SHA-256 of bytes, as hex."""
    return hashlib.sha256(data).hexdigest()


def bundle_sha256(files: Mapping[str, str]) -> str:
    """The bundle's SHA-256: of its sorted `name sha256` lines."""
    manifest = "".join(f"{name} {files[name]}\n" for name in sorted(files))
    return sha256_bytes(manifest.encode())


def write_atomic(path: Path, text: str) -> None:
    """Write a file so readers see the old or the new content, never half of it."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def check_name(name: str) -> str:
    """A model name: letters, digits, `_.-`, at most 64 characters."""
    if not NAME_PATTERN.match(name):
        raise RegistryError(f"model name {name!r} is not valid: use letters, digits and _.- (at most 64)")
    return name


def parse_ref(ref: str) -> tuple[str, str]:
    """`NAME@ALIAS`, `NAME@VERSION` or `NAME` (= `NAME@champion`) as (name, alias or version)."""
    name, _, which = ref.partition("@")
    return check_name(name), which or "champion"


class Registry:
    """A folder of named, versioned model bundles."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # --- the trusted types ---------------------------------------------------------------------

    def trusted_types(self) -> list[str]:
        """The types skops may load, from `<root>/trusted_types.json` (written with defaults if absent)."""
        path = self.root / TRUSTED_FILE
        if not path.is_file():
            self.root.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps({"trusted": list(default_trusted())}, indent=2) + "\n")
        expected = "a JSON object with a 'trusted' list of type names"
        content = read_json(path, expected)
        trusted = content.get("trusted") if isinstance(content, dict) else None
        if not isinstance(trusted, list) or not all(isinstance(name, str) for name in trusted):
            raise RegistryError(f"{path}: expected {expected}, found {json.dumps(content)[:80]}")
        return legacy.current_names(trusted)

    def check_trusted(self, model: bytes, where: str) -> None:
        """Refuse a skops file holding a type the registry does not trust."""
        import skops.io as sio

        recorded = legacy.current_names(sio.get_untrusted_types(data=model))
        untrusted = sorted(set(recorded) - set(self.trusted_types()))
        if untrusted:
            raise RegistryError(
                f"{where} holds types the registry does not trust: {', '.join(untrusted)}. Review them; "
                f"if you trust them, add them to {self.root / TRUSTED_FILE}."
            )

    # --- the index -----------------------------------------------------------------------------

    def folder(self, name: str) -> Path:
        """The folder of a model name."""
        return self.root / check_name(name)

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[dict[str, Any]]:
        """The name's index, locked against other writers; written back when the block ends."""
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            index = self.index(name)
            yield index
            write_atomic(folder / INDEX_FILE, json.dumps(index, indent=2, sort_keys=True) + "\n")

    def index(self, name: str) -> dict[str, Any]:
        """The name's index (empty when nothing is registered under it)."""
        path = self.folder(name) / INDEX_FILE
        if not path.is_file():
            return {"name": name, "versions": {}, "aliases": {}}
        return checked_index(read_json(path, INDEX_SHAPE), path, name)

    def names(self) -> list[str]:
        """Registered model names."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / INDEX_FILE).is_file())

    def versions(self, name: str) -> list[Version]:
        """Every version of a name, oldest first."""
        index = self.index(name)
        return [entry_of(index, v) for v in sorted(index["versions"], key=int)]

    def table(self, name: str) -> pd.DataFrame:
        """The versions of a name as a table: registered, SHA-256 (short), aliases."""
        import pandas as pd

        rows = [
            {"version": v.version, "registered": v.created, "sha256": v.sha256[:12], "aliases": ", ".join(v.aliases)}
            for v in self.versions(name)
        ]
        return pd.DataFrame(rows, columns=["version", "registered", "sha256", "aliases"]).set_index("version")

    # --- register and promote ------------------------------------------------------------------

    def register(self, name: str, files: Mapping[str, bytes], source: Mapping[str, Any] | None = None) -> Version:
        """Register a bundle (the same content twice gives the same version); returns its entry."""
        missing = [f for f in BUNDLE_FILES if f not in files]
        if missing:
            raise RegistryError(f"a bundle needs the files {', '.join(BUNDLE_FILES)}; missing: {', '.join(missing)}")
        self.check_trusted(files[MODEL_FILE], f"bundle for '{name}'")
        hashes = {file: sha256_bytes(data) for file, data in files.items()}
        digest = bundle_sha256(hashes)
        with self.locked(name) as index:
            same = [v for v, e in index["versions"].items() if e["sha256"] == digest]
            if same:
                return entry_of(index, same[0])
            version = str(max((int(v) for v in index["versions"]), default=0) + 1)
            self.write_bundle(name, version, files)
            index["versions"][version] = {
                "sha256": digest, "files": hashes, "packages": provenance.package_versions(PACKAGES),
                "created": datetime.now(UTC).isoformat(timespec="seconds"), "source": dict(source or {}),
            }
        return entry_of(index, version)

    def write_bundle(self, name: str, version: str, files: Mapping[str, bytes]) -> None:
        """Write the files into a hidden folder, then rename it into place."""
        target = self.folder(name) / version
        if target.exists():
            raise RegistryError(f"{target} exists but is not in {INDEX_FILE}: move it away, then register again")
        staging = self.folder(name) / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        for file, data in files.items():
            (staging / file).write_bytes(data)
        os.replace(staging, target)

    def promote(self, name: str, version: str, alias: str) -> tuple[Version, str | None]:
        """Point an alias at a version (checked first); returns the entry and the version it replaced."""
        if alias not in ALIASES:
            raise RegistryError(f"alias {alias!r} is not one of {', '.join(ALIASES)}.{did_you_mean(alias, ALIASES)}")
        entry = self.entry(name, version)
        self.verify(entry)
        with self.locked(name) as index:
            previous = index["aliases"].get(alias)
            index["aliases"][alias] = entry.version
        return entry_of(index, entry.version), previous

    # --- find, verify, load --------------------------------------------------------------------

    def entry(self, name: str, which: str) -> Version:
        """The entry of `name` at a version number or an alias, with an error that lists what exists."""
        index = self.index(name)
        if not index["versions"]:
            known = self.names()
            listed = ", ".join(known) or "none"
            raise RegistryError(
                f"no model '{name}' in the registry {self.root} (models: {listed}).{did_you_mean(name, known)}"
            )
        version = index["aliases"].get(which, which)
        if version not in index["versions"]:
            raise RegistryError(f"'{name}' has no version or alias '{which}'; {describe_versions(self.versions(name))}")
        return entry_of(index, version)

    def resolve(self, ref: str) -> Version:
        """The entry a reference (`NAME@ALIAS`, `NAME@VERSION`, `NAME`) points at."""
        return self.entry(*parse_ref(ref))

    def verify(self, entry: Version) -> dict[str, bytes]:
        """Read the bundle's files and check each SHA-256 against the index; return their bytes."""
        folder = self.folder(entry.name) / entry.version
        contents: dict[str, bytes] = {}
        for file, expected in sorted(entry.files.items()):
            path = folder / file
            if not path.is_file():
                raise RegistryError(f"bundle {entry.ref} is incomplete: {path} is missing")
            contents[file] = path.read_bytes()
            found = sha256_bytes(contents[file])
            if found != expected:
                raise RegistryError(
                    f"bundle {entry.ref} fails its integrity check: {file} has SHA-256 {found[:16]}…, "
                    f"the registry recorded {expected[:16]}…; the file was changed after registration. Refusing to load it."
                )
        return contents

    def load(self, ref: str, allow_version_mismatch: bool = False) -> LoadedModel:
        """Resolve, verify, version-check and load a bundle."""
        from mlworkflow.bundle.contract import Contract

        entry = self.resolve(ref)
        contents = self.verify(entry)
        check_versions(entry, allow_version_mismatch)
        pipeline = self.load_model(contents[MODEL_FILE], entry)
        return LoadedModel(
            entry=entry,
            pipeline=pipeline,
            metadata=self.metadata(entry, contents[METADATA_FILE]),
            contract=Contract.model_validate_json(contents[CONTRACT_FILE]),
            card=contents[CARD_FILE].decode("utf-8"),
        )

    def metadata(self, entry: Version, data: bytes) -> BundleMetadata:
        """The bundle's metadata.json as its record; a missing or renamed field is a RecordError naming it."""
        path = self.folder(entry.name) / entry.version / METADATA_FILE
        return io.record_from(data, path, BundleMetadata, BundleMetadata.written_by)

    def load_model(self, data: bytes, entry: Version) -> Any:
        """Load the skops bytes trusting only the registry's list."""
        import skops.io as sio
        from skops.io.exceptions import UntrustedTypesFoundException

        try:
            return sio.loads(legacy.modernize(data), trusted=self.trusted_types())
        except UntrustedTypesFoundException as exc:
            found = str(exc).split("\n")[0]
            raise RegistryError(
                f"bundle {entry.ref}: {found} The registry trusts only the types in {self.root / TRUSTED_FILE}; "
                "review these and add them there if you trust them."
            ) from None
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise RegistryError(f"bundle {entry.ref}: {MODEL_FILE} is not a readable skops file: {exc}") from None


def entry_of(index: Mapping[str, Any], version: str) -> Version:
    """A Version from the index."""
    record = index["versions"][version]
    aliases = tuple(sorted(alias for alias, v in index["aliases"].items() if v == version))
    return Version(
        name=str(index["name"]), version=version, sha256=record["sha256"], files=dict(record["files"]),
        packages=dict(record["packages"]), created=str(record["created"]), aliases=aliases,
    )


def describe_versions(versions: list[Version]) -> str:
    """`versions: 1, 2 (challenger)` and the promote command, for error messages."""
    listed = ", ".join(f"{v.version} ({', '.join(v.aliases)})" if v.aliases else v.version for v in versions)
    last = versions[-1]
    return f"versions: {listed}. Promote one, e.g. `mlworkflow promote {last.name} {last.version} --alias champion`"


def check_versions(entry: Version, allow_mismatch: bool) -> None:
    """Refuse a bundle built with another scikit-learn, unless allowed."""
    built = entry.packages.get("scikit-learn")
    here = provenance.package_versions(PACKAGES).get("scikit-learn")
    if built != here and not allow_mismatch:
        raise RegistryError(
            f"bundle {entry.ref} was built with scikit-learn {built}, this environment has {here}: a model "
            f"can predict differently or fail under another version. Install scikit-learn=={built}, or load it "
            "anyway with --allow-version-mismatch (params: deploy.allow_version_mismatch)."
        )


def registered_problem(record: DeployRecord) -> str:
    """Why a deploy.json no longer describes its registry ("" while its version and aliases are as recorded)."""
    try:
        entry = Registry(record.registry).entry(record.name, record.version)
    except RegistryError:
        return f"registry version {record.ref} is gone from {record.registry}"
    if entry.sha256 != record.sha256:
        return f"registry version {record.ref} holds another bundle"
    moved = sorted(set(record.aliases) - set(entry.aliases))
    return f"alias {moved[0]} no longer points at {record.ref}" if moved else ""
