"""Safe YAML loading that remembers where every value came from and rejects duplicate keys.

Documents are composed into nodes (with the C loader when PyYAML has it) and built into plain Python values
by one walk that records, for every field path, its line and column, so that any later error can point at
``file:line:col``. Timestamps stay strings, as they do in Kubernetes' JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fedrender.models.diagnostics import Diagnostic, InputError, Location

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Scalar:
    """Where a scalar value sits in its file: 1-based line/col of its first character and its YAML style."""

    line: int
    col: int
    style: str | None


@dataclass
class SourceDoc:
    """One YAML document: its data and the position of every field path in it."""

    file: str
    index: int
    data: Any
    positions: dict[PathKey, Scalar] = field(default_factory=dict)
    key_positions: dict[PathKey, Scalar] = field(default_factory=dict)

    def location(self, path: PathKey = ()) -> Location:
        """The closest known position of ``path`` (walking up to a parent when the field is absent)."""
        for end in range(len(path), -1, -1):
            sub = path[:end]
            pos = self.key_positions.get(sub) or self.positions.get(sub)
            if pos is not None:
                return Location(self.file, pos.line, pos.col)
        return Location(self.file)

    def value_position(self, path: PathKey) -> Scalar | None:
        return self.positions.get(path)


def format_path(path: PathKey) -> str:
    """``spec.containers[0].name`` style rendering of a field path."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def load_file(path: Path, display: str | None = None) -> list[SourceDoc]:
    """Every non-empty document of a YAML file; raises InputError naming file:line:col on bad YAML."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Diagnostic(f"cannot read file: {exc}", Location(name))]) from exc
    return load_text(text, name)


def load_text(text: str, name: str) -> list[SourceDoc]:
    docs: list[SourceDoc] = []
    # The loader both composes the nodes and constructs the scalars: what its constructor remembers about
    # them goes away with it, rather than piling up for the life of the process.
    loader = _Loader(text)
    try:
        for index, node in enumerate(_compose_all(loader)):
            if node is None:
                continue
            doc = SourceDoc(name, index, None)
            doc.data = _build(node, (), doc, loader)
            if doc.data is not None:
                docs.append(doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name)
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise InputError([Diagnostic(f"invalid YAML: {problem}", loc)]) from exc
    except yaml.YAMLError as exc:
        raise InputError([Diagnostic(f"invalid YAML: {exc}", Location(name))]) from exc
    finally:
        loader.dispose()
    return docs


def _compose_all(loader: _Loader) -> Iterator[yaml.Node | None]:
    while loader.check_node():
        yield loader.get_node()


def _mark(node: yaml.Node) -> Scalar:
    style = node.style if isinstance(node, yaml.ScalarNode) else None
    return Scalar(node.start_mark.line + 1, node.start_mark.column + 1, style)


def _build(node: yaml.Node, path: PathKey, doc: SourceDoc, loader: _Loader) -> Any:
    doc.positions[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _build_scalar(key_node, loader)
            if not isinstance(key, str):
                key = str(key) if isinstance(key, (int, float, bool)) or key is None else key
            if not isinstance(key, str):
                raise InputError([_at(doc, key_node, "mapping keys must be strings")])
            if key in out:
                raise InputError([_at(doc, key_node, f"duplicate key {key!r}", format_path((*path, key)))])
            doc.key_positions[(*path, key)] = _mark(key_node)
            out[key] = _build(value_node, (*path, key), doc, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), doc, loader) for i, item in enumerate(node.value)]
    return _build_scalar(node, loader)


def _build_scalar(node: yaml.Node, loader: _Loader) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(None, None, "expected a scalar", node.start_mark)
    if node.tag == "tag:yaml.org,2002:timestamp":
        return node.value
    return loader.construct_object(node)


def _at(doc: SourceDoc, node: yaml.Node, message: str, field_path: str = "") -> Diagnostic:
    mark = _mark(node)
    return Diagnostic(message, Location(doc.file, mark.line, mark.col), field_path)
