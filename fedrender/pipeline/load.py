"""Reading inputs: spec files and directories, the cluster snapshot, overlays and rule packs."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from fedrender.models.cluster import Cluster
from fedrender.models.diagnostics import Diagnostic, Diagnostics, InputError, Location, closest
from fedrender.models.inputfile import decode_utf8, read_input
from fedrender.models.observed import API_VERSION as OBSERVED_API_VERSION
from fedrender.models.observed import KIND as OBSERVED_KIND
from fedrender.models.observed import ObservedReplicaSet
from fedrender.models.overlay import Overlay
from fedrender.models.parse import model_diagnostics, parse_model
from fedrender.models.source import PathKey, SourceDoc, check_value_depth, load_file, load_text
from fedrender.rules.pack import PACK_FILE, Pack, load_pack

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SpecInput:
    doc: SourceDoc
    model: BaseModel
    pack: Pack


def default_rules_dir() -> Path:
    """The packs shipped with fedrender: ``rules/`` of a source checkout, else the copy inside the wheel."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "rules", here / "_packs"):
        if any(candidate.glob(f"*/{PACK_FILE}")):
            return candidate
    raise InputError([Diagnostic("no rule packs found; pass --rules DIR", Location(str(here)))])


def not_a_directory(path: Path) -> str | None:
    """Why ``path`` cannot be read as a directory ("no such file or directory", "not a directory: it is a
    file"), or None when it is one (symlinks followed, as ``--rules`` and ``--overlay`` allow)."""
    if path.is_dir():
        return None
    if not path.exists():
        return "no such file or directory"
    return "not a directory: it is a file" if path.is_file() else "not a directory"


def load_packs(rules: Path | None) -> list[Pack]:
    """The rule packs in ``rules`` (a pack directory, or a directory of pack directories; default: the shipped
    packs). Raises :class:`InputError` located at the directory when it is missing or holds no pack."""
    root = rules or default_rules_dir()
    why = not_a_directory(root)
    if why:
        raise InputError([Diagnostic(f"{why}; rule packs are read from a directory", Location(str(root)))])
    if (root / PACK_FILE).is_file():
        return [load_pack(root)]
    dirs = sorted(p for p in root.iterdir() if (p / PACK_FILE).is_file())
    if not dirs:
        raise InputError([Diagnostic(f"no rule pack ({PACK_FILE}) found in this directory", Location(str(root)))])
    diagnostics = Diagnostics()
    packs = []
    for directory in dirs:
        try:
            packs.append(load_pack(directory))
        except InputError as exc:
            diagnostics.extend(exc.diagnostics)
    diagnostics.extend(_clashes(packs))
    diagnostics.raise_if_errors()
    return packs


def _clashes(packs: Sequence[Pack]) -> list[Diagnostic]:
    """Two packs may neither render the same kind (which one would render a spec?) nor share a name (their
    output folder and CEL types)."""
    problems = []
    for what, path, key in (("renders", "spec.input.kind", lambda p: f"{p.kind} ({p.api_version})"),
                            ("is named", "metadata.name", lambda p: p.name)):
        first: dict[str, Pack] = {}
        for pack in packs:
            other = first.setdefault(key(pack), pack)
            if other is not pack:
                problems.append(Diagnostic(f"pack {pack.name!r} {what} {key(pack)}, as pack {other.name!r} "
                                           f"({other.source or other.directory}) does already",
                                           pack.source or Location(str(pack.directory)), path))
    return problems


SPEC_SUFFIXES = (*YAML_SUFFIXES, ".json")


STDIN = Path("-")
"""``--specs -`` / ``--clusters -``: the input is the standard input, read once (``Inputs.stdin``)."""
STDIN_NAME = "<stdin>"


def _load(path: Path, stdin: bytes) -> list[SourceDoc]:
    """The documents of ``path``, or of ``stdin`` (the bytes read from standard input) for :data:`STDIN`."""
    if path == STDIN:
        return load_text(decode_utf8(stdin, STDIN_NAME), STDIN_NAME)
    return load_file(path)


def yaml_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and the spec files (``.yaml``, ``.yml``, ``.json``, as ``kubectl -o json`` writes them;
    JSON is read by the same YAML loader) under directories (recursively, sorted, hidden ones skipped)."""
    return spec_files(paths)[0]


def spec_files(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(files read, files skipped): the files ``yaml_files`` returns, and the other visible files under the
    directories (wrong suffix), so a message can say what was not read. InputError for a missing path."""
    read: list[Path] = []
    skipped: list[Path] = []
    for path in paths:
        if path == STDIN:
            read.append(path)
        elif path.is_dir():
            for p in sorted(path.rglob("*")):
                # Only directories are passed over: a FIFO or a device named like a spec is read, and refused
                # (reading it would block or never end), rather than silently left out.
                if any(part.startswith(".") for part in p.relative_to(path).parts) or p.is_dir():
                    continue
                (read if p.suffix in SPEC_SUFFIXES else skipped).append(p)
        elif path.exists():
            read.append(path)
        else:
            raise InputError([Diagnostic("no such file or directory", Location(str(path)))])
    return read, skipped


MAX_OBJECT_BYTES = 3 * 512 * 1024
"""The largest object the Kubernetes API server stores (etcd's default --max-request-bytes, 1.5 MiB)."""


def load_specs(paths: Sequence[Path], packs: Sequence[Pack], diagnostics: Diagnostics,
               stdin: bytes = b"") -> list[SpecInput]:
    """Every spec that parses; problems with the others go to ``diagnostics`` so all are reported together."""
    by_kind = {(p.api_version, p.kind): p for p in packs}
    out: list[SpecInput] = []
    for path in yaml_files(paths):
        for doc in _spec_docs(path, diagnostics, stdin):
            data = doc.data
            size = len(json.dumps(data, separators=(",", ":"), default=str))
            if size > MAX_OBJECT_BYTES:
                diagnostics.add(Diagnostic(f"the object takes {size} bytes as JSON; the Kubernetes API server stores "
                                           f"objects of at most {MAX_OBJECT_BYTES} (1.5 MiB, etcd's request limit)",
                                           doc.location()))
                continue
            pack = by_kind.get((str(data.get("apiVersion")), str(data.get("kind"))))
            if pack is None and data.get("kind") == "Cluster" and str(data.get("apiVersion")).startswith(
                    "cluster.karmada.io/"):
                diagnostics.add(Diagnostic("this is a Karmada Cluster, not a spec: pass the cluster snapshot as "
                                           "--clusters, and the specs as --specs", doc.location(("kind",)), "kind"))
                continue
            if pack is None:
                known = ", ".join(f"{k} ({a})" for a, k in sorted(by_kind))
                missing = [f for f in ("apiVersion", "kind") if not isinstance(data.get(f), str) or not data.get(f)]
                what = (f"the object has no {' and no '.join(missing)}" if missing
                        else f"no rule pack renders {data['kind']} ({data['apiVersion']})")
                diagnostics.add(Diagnostic(f"{what}; known kinds: {known}", doc.location(("kind",)), "kind"))
                continue
            try:
                out.append(SpecInput(doc, pack.input_model.model_validate(data), pack))
            except ValidationError as exc:
                diagnostics.extend(model_diagnostics(exc, doc, data.get("kind", "")))
    return out


def _spec_docs(path: Path, diagnostics: Diagnostics, stdin: bytes) -> list[SourceDoc]:
    """The spec documents of ``path``: each document, and each item of a ``List`` (what ``kubectl get
    multicloudmongodbs -A -o yaml`` prints)."""
    out = []
    for doc in _mapping_docs(path, "expected a Kubernetes object (a mapping)", "the spec is", diagnostics, stdin):
        if doc.data.get("kind") != "List":
            out.append(doc)
            continue
        try:
            items = _list_items(doc)
        except InputError as exc:
            diagnostics.extend(exc.diagnostics)
            continue
        for i, item in enumerate(items):
            if isinstance(item, dict):
                out.append(doc.sub(("items", i)))
            else:
                diagnostics.add(Diagnostic("expected a Kubernetes object (a mapping)", doc.location(("items", i)),
                                           f"items[{i}]"))
    return out


def _mapping_docs(path: Path, not_mapping: str, what: str, diagnostics: Diagnostics,
                  stdin: bytes = b"") -> list[SourceDoc]:
    """The documents of ``path`` that are mappings no deeper than CEL can take; the problems with the file and
    the other documents go to ``diagnostics``."""
    try:
        docs = _load(path, stdin)
    except InputError as exc:
        diagnostics.extend(exc.diagnostics)
        return []
    out = []
    for doc in docs:
        if not isinstance(doc.data, dict):
            problem: Diagnostic | None = Diagnostic(not_mapping, doc.location())
        else:
            problem = check_value_depth(doc, what)
        if problem is None:
            out.append(doc)
        else:
            diagnostics.add(problem)
    return out


CLUSTERS_HINT = ("--clusters takes one snapshot file of Karmada Cluster objects, and optionally the MongoReplicaSets "
                 "beside them (kubectl get clusters.cluster.karmada.io,mongoreplicasets.fedrender.io -A -o yaml, or "
                 "fedrender snapshot); specs go to --specs")


@dataclass(frozen=True)
class SnapshotInput:
    """What ``--clusters`` holds: the Clusters by name, and the observed MongoReplicaSets by ``namespace/name``."""

    clusters: list[Cluster]
    observed: dict[str, ObservedReplicaSet]


def load_clusters(path: Path, stdin: bytes = b"") -> list[Cluster]:
    """The Clusters of :func:`load_snapshot`."""
    return load_snapshot(path, stdin).clusters


def load_snapshot(path: Path, stdin: bytes = b"") -> SnapshotInput:
    """Clusters and MongoReplicaSets from a ``List`` (as kubectl prints one or several kinds) or a multi-document
    file. Cluster names must be unique, and MongoReplicaSet ``namespace/name`` too (the second one is refused at its
    ``metadata.name``); any other kind is an error at its ``kind``."""
    diagnostics = Diagnostics()
    clusters: dict[str, Cluster] = {}
    observed: dict[str, tuple[ObservedReplicaSet, SourceDoc]] = {}
    if path != STDIN and path.is_dir():
        raise InputError([Diagnostic(f"not a regular file: it is a directory; {CLUSTERS_HINT}", Location(str(path)))])
    for doc in _load(path, stdin):
        items: list[tuple[SourceDoc, Any]] = [(doc, doc.data)]
        if isinstance(doc.data, dict) and doc.data.get("kind") == "List":
            items = [(doc.sub(("items", i)), item) for i, item in enumerate(_list_items(doc))]
        for sub, item in items:
            kind = item.get("kind") if isinstance(item, dict) else None
            if kind == OBSERVED_KIND:
                try:
                    found = parse_model(ObservedReplicaSet, sub, OBSERVED_KIND)
                except InputError as exc:
                    diagnostics.extend(exc.diagnostics)
                    continue
                if found.key in observed:
                    diagnostics.add(Diagnostic(f"duplicate MongoReplicaSet {found.key!r}, also at "
                                               f"{observed[found.key][1].location(('metadata', 'name'))}",
                                               sub.location(("metadata", "name")), "metadata.name"))
                    continue
                observed[found.key] = (found, sub)
                continue
            if isinstance(kind, str) and kind != "Cluster":
                diagnostics.add(Diagnostic(f"expected a Karmada Cluster (cluster.karmada.io/v1alpha1) or a "
                                           f"MongoReplicaSet ({OBSERVED_API_VERSION}), found {kind}: {CLUSTERS_HINT}",
                                           sub.location(("kind",)), "kind"))
                continue
            try:
                cluster = parse_model(Cluster, sub, "Cluster")
            except InputError as exc:
                diagnostics.extend(exc.diagnostics)
                continue
            cluster.record_vip_location(sub.location(("metadata", "labels", "vip")))
            if cluster.metadata.name in clusters:
                diagnostics.add(Diagnostic(f"duplicate cluster {cluster.metadata.name!r}",
                                           sub.location(("metadata", "name")), "metadata.name"))
            clusters[cluster.metadata.name] = cluster
    diagnostics.raise_if_errors()
    return SnapshotInput([clusters[name] for name in sorted(clusters)],
                         {key: observed[key][0] for key in sorted(observed)})


def _list_items(doc: SourceDoc) -> list[Any]:
    items = doc.data.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        raise InputError([Diagnostic("items of a List must be a list", doc.location(("items",)), "items")])
    return items


def load_overlay(directories: Sequence[Path]) -> Overlay:
    """The overlay: every file checked on its own (errors carry file:line), then merged in the documented
    order (see :mod:`fedrender.models.overlay`) and checked again as a whole."""
    diagnostics = Diagnostics()
    merged: dict[str, Any] = {}
    sources: dict[PathKey, Location] = {}  # field path -> where the file that set it last sets it
    for directory in directories:
        why = not_a_directory(directory)
        if why:
            diagnostics.add(Diagnostic(f"{why}; an overlay is a directory of YAML files", Location(str(directory))))
            continue
        for path in _overlay_paths(directory):
            for doc in _mapping_docs(path, "an overlay document is a mapping", "the overlay is", diagnostics):
                try:
                    parse_model(Overlay, doc, "overlay")
                except InputError as exc:
                    diagnostics.extend(exc.diagnostics)
                    continue
                merged = _merge(merged, doc.data)
                sources.update({path: doc.location(path) for path in doc.key_positions})
    diagnostics.raise_if_errors()
    try:
        overlay = Overlay.model_validate(merged)
    except ValidationError as exc:
        raise InputError([Diagnostic(f"the merged overlay is invalid: {e['msg']}", closest(sources, e["loc"]),
                                     ".".join(str(p) for p in e["loc"])) for e in exc.errors()]) from None
    overlay.record_sources(sources)
    return overlay


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def overlay_files(directories: Sequence[Path]) -> list[Path]:
    return [p for d in directories if d.is_dir() for p in _overlay_paths(d)]


def _overlay_paths(directory: Path) -> list[Path]:
    """The ``*.yaml`` files of an overlay directory, in name order. Anything but a directory is kept, so that a
    FIFO or a device named like a YAML file is reported (reading it refuses it) rather than skipped."""
    return sorted(p for p in directory.iterdir() if p.suffix in YAML_SUFFIXES and not p.is_dir())


def digest(paths: Iterable[Path], stdin: bytes = b"") -> dict[str, str]:
    """sha256 of each input, keyed by its path relative to the inputs' common directory, so the same inputs
    give the same keys from any working directory and with relative or absolute paths; standard input
    (:data:`STDIN`) as ``<stdin>``."""
    paths = list(paths)
    resolved = sorted({p.resolve() for p in paths if p != STDIN})
    out = {STDIN_NAME: hashlib.sha256(stdin).hexdigest()} if STDIN in paths else {}
    if not resolved:
        return out
    common = Path(os.path.commonpath([p.parent for p in resolved]))
    return {**out, **{p.relative_to(common).as_posix(): hashlib.sha256(read_input(p)).hexdigest() for p in resolved}}
