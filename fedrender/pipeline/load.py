"""Reading inputs: spec files and directories, the cluster snapshot, overlays and rule packs."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from fedrender.models.cluster import Cluster
from fedrender.models.diagnostics import Diagnostic, Diagnostics, InputError, Location, closest
from fedrender.models.overlay import Overlay
from fedrender.models.parse import model_diagnostics, parse_model
from fedrender.models.source import PathKey, SourceDoc, load_file
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


def load_packs(rules: Path | None) -> list[Pack]:
    root = rules or default_rules_dir()
    if (root / PACK_FILE).is_file():
        return [load_pack(root)]
    dirs = sorted(p for p in root.iterdir() if (p / PACK_FILE).is_file()) if root.is_dir() else []
    if not dirs:
        raise InputError([Diagnostic(f"no rule pack ({PACK_FILE}) found in this directory", Location(str(root)))])
    diagnostics = Diagnostics()
    packs = []
    for directory in dirs:
        try:
            packs.append(load_pack(directory))
        except InputError as exc:
            diagnostics.extend(exc.diagnostics)
    diagnostics.raise_if_errors()
    return packs


SPEC_SUFFIXES = (*YAML_SUFFIXES, ".json")


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
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if any(part.startswith(".") for part in p.relative_to(path).parts) or not p.is_file():
                    continue
                (read if p.suffix in SPEC_SUFFIXES else skipped).append(p)
        elif path.exists():
            read.append(path)
        else:
            raise InputError([Diagnostic("no such file or directory", Location(str(path)))])
    return read, skipped


def load_specs(paths: Sequence[Path], packs: Sequence[Pack], diagnostics: Diagnostics) -> list[SpecInput]:
    """Every spec that parses; problems with the others go to ``diagnostics`` so all are reported together."""
    by_kind = {(p.api_version, p.kind): p for p in packs}
    out: list[SpecInput] = []
    for path in yaml_files(paths):
        try:
            docs = load_file(path)
        except InputError as exc:
            diagnostics.extend(exc.diagnostics)
            continue
        for doc in docs:
            data = doc.data
            if not isinstance(data, dict):
                diagnostics.add(Diagnostic("expected a Kubernetes object (a mapping)", doc.location()))
                continue
            pack = by_kind.get((str(data.get("apiVersion")), str(data.get("kind"))))
            if pack is None:
                known = ", ".join(f"{k} ({a})" for a, k in sorted(by_kind))
                diagnostics.add(Diagnostic(f"no rule pack renders {data.get('kind')} ({data.get('apiVersion')}); "
                                           f"known kinds: {known}", doc.location(("kind",)), "kind"))
                continue
            try:
                out.append(SpecInput(doc, pack.input_model.model_validate(data), pack))
            except ValidationError as exc:
                diagnostics.extend(model_diagnostics(exc, doc, data.get("kind", "")))
    return out


def load_clusters(path: Path) -> list[Cluster]:
    """Clusters from a ``List`` (as kubectl prints it) or a multi-document file; names must be unique."""
    diagnostics = Diagnostics()
    clusters: dict[str, Cluster] = {}
    for doc in load_file(path):
        items: list[tuple[SourceDoc, Any]] = [(doc, doc.data)]
        if isinstance(doc.data, dict) and doc.data.get("kind") == "List":
            items = [(_sub(doc, ("items", i)), item) for i, item in enumerate(doc.data.get("items") or [])]
        for sub, _ in items:
            try:
                cluster = parse_model(Cluster, sub, "Cluster")
            except InputError as exc:
                diagnostics.extend(exc.diagnostics)
                continue
            if cluster.metadata.name in clusters:
                diagnostics.add(Diagnostic(f"duplicate cluster {cluster.metadata.name!r}",
                                           sub.location(("metadata", "name")), "metadata.name"))
            clusters[cluster.metadata.name] = cluster
    diagnostics.raise_if_errors()
    return [clusters[name] for name in sorted(clusters)]


def _sub(doc: SourceDoc, prefix: tuple[str | int, ...]) -> SourceDoc:
    """The document rooted at ``prefix`` (an item of a List), positions re-keyed."""
    node = doc.data
    for part in prefix:
        node = node[part]
    n = len(prefix)
    sub = SourceDoc(doc.file, doc.index, node)
    sub.positions = {k[n:]: v for k, v in doc.positions.items() if k[:n] == prefix}
    sub.key_positions = {k[n:]: v for k, v in doc.key_positions.items() if k[:n] == prefix}
    return sub


def load_overlay(directories: Sequence[Path]) -> Overlay:
    """The overlay: every file checked on its own (errors carry file:line), then merged in the documented
    order (see :mod:`fedrender.models.overlay`) and checked again as a whole."""
    diagnostics = Diagnostics()
    merged: dict[str, Any] = {}
    sources: dict[PathKey, Location] = {}  # field path -> where the file that set it last sets it
    for directory in directories:
        if not directory.is_dir():
            diagnostics.add(Diagnostic("an overlay is a directory of YAML files", Location(str(directory))))
            continue
        for path in sorted(p for p in directory.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file()):
            for doc in load_file(path):
                if not isinstance(doc.data, dict):
                    diagnostics.add(Diagnostic("an overlay document is a mapping", doc.location()))
                    continue
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
    return [p for d in directories if d.is_dir() for p in sorted(d.iterdir())
            if p.suffix in YAML_SUFFIXES and p.is_file()]


def digest(paths: Iterable[Path]) -> dict[str, str]:
    """sha256 of each input, keyed by its path relative to the inputs' common directory, so the same inputs
    give the same keys from any working directory and with relative or absolute paths."""
    resolved = sorted({p.resolve() for p in paths})
    if not resolved:
        return {}
    common = Path(os.path.commonpath([p.parent for p in resolved]))
    return {p.relative_to(common).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in resolved}
