"""Safe, bounded YAML loading that remembers where every value came from and rejects duplicate keys.

Documents are composed into nodes (with the C loader when PyYAML has it) and built into plain Python values
by one walk that records, for every field path, its line and column, so that any later error can point at
``file:line:col``. Timestamps stay strings, as they do in Kubernetes' JSON.

The walk is bounded like Kubernetes' own YAML decoding (go-yaml's ``allowedAliasRatio``): a document whose
values come mostly from expanding aliases ("billion laughs") is refused, and so is an anchor whose value
contains an alias to itself, aliases that add more than :data:`MAX_ALIAS_CHARS` characters, nesting deeper
than :data:`MAX_DEPTH`, and numbers a Kubernetes object can't hold (integers outside int64, ``.inf``,
``.nan``). YAML 1.1 merge keys (``<<: *base``) are expanded; explicit keys override merged ones.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fedrender.models.diagnostics import Diagnostic, InputError, Location, is_secret_field
from fedrender.models.inputfile import read_text
from fedrender.models.yamlnumbers import SPECIAL_FLOATS, go_number, starts_like_a_number

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

PathKey = tuple[str | int, ...]

MAX_DEPTH = 100
"""Deepest nesting of mappings and sequences in an input document."""
MAX_VALUE_DEPTH = 30
"""Deepest nesting of a spec or overlay document, whose values become CEL (protobuf) messages: a free-form
mapping costs three message levels (Struct, its map entry, Value) and protobuf parses at most 100."""
MAX_ALIAS_CHARS = 4 * 2**20
"""Characters of scalar text that expanding aliases may add to one document."""
_ALIAS_RATIO_LOW, _ALIAS_RATIO_HIGH = 400_000, 4_000_000  # go-yaml decode.go, as Kubernetes decodes YAML
_INT64 = (-(2**63), 2**63 - 1)
_MERGE = "tag:yaml.org,2002:merge"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"


class _Loader(_SafeLoader):
    """PyYAML's safe loader, resolving plain scalars that look like numbers as Kubernetes does (go-yaml v2,
    :mod:`fedrender.models.yamlnumbers`): ``10:00`` is a string there, not 600; ``0o17`` is 15."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        if kind is not yaml.ScalarNode or not implicit[0] or not starts_like_a_number(value) or len(value) > 100:
            return tag  # an int of over 100 characters is refused as such when it is built
        number = go_number(value)
        if tag in (_INT, _FLOAT):
            return _STR if number is None else tag  # base 60 (10:00) is a string to go-yaml
        # A string to PyYAML that go-yaml reads as an integer (0o17) is one; one it reads as a float (1e3, 09)
        # stays a string: an integer or quantity field takes it as Kubernetes does, or refuses it at its line.
        return _INT if isinstance(number, int) else tag


@dataclass(frozen=True)
class Scalar:
    """Where a scalar value sits in its file: 1-based line/col of its first character and its YAML style."""

    line: int
    col: int
    style: str | None


@dataclass
class SourceDoc:
    """One YAML document: its data and the position of every field path in it.

    ``prefix`` roots a document inside a larger one (an item of a ``List``): paths are looked up below it, so
    that the items share their file's positions instead of copying them."""

    file: str
    index: int
    data: Any
    positions: dict[PathKey, Scalar] = field(default_factory=dict)
    key_positions: dict[PathKey, Scalar] = field(default_factory=dict)
    prefix: PathKey = ()

    def location(self, path: PathKey = ()) -> Location:
        """The closest known position of ``path`` (walking up to a parent when the field is absent)."""
        full = (*self.prefix, *path)
        for end in range(len(full), len(self.prefix) - 1, -1):
            sub = full[:end]
            pos = self.key_positions.get(sub) or self.positions.get(sub)
            if pos is not None:
                return Location(self.file, pos.line, pos.col)
        return Location(self.file)

    def value_position(self, path: PathKey) -> Scalar | None:
        return self.positions.get((*self.prefix, *path))

    def paths_holding(self, value: str | int) -> list[PathKey]:
        """The paths (below this document) whose scalar is ``value``, of the same type (booleans and nulls never
        match), in document order: where a value that a rule or template passed on unchanged came from."""
        out: list[PathKey] = []

        def walk(node: Any, path: PathKey) -> None:
            if isinstance(node, dict):
                for key, item in node.items():
                    walk(item, (*path, key))
            elif isinstance(node, list):
                for index, item in enumerate(node):
                    walk(item, (*path, index))
            elif type(node) is type(value) and node == value:
                out.append(path)

        walk(self.data, ())
        return out

    def sub(self, prefix: PathKey) -> SourceDoc:
        """The document rooted at ``prefix`` (which must exist), sharing this one's positions: O(len(prefix))."""
        node = self.data
        for part in prefix:
            node = node[part]
        return SourceDoc(self.file, self.index, node, self.positions, self.key_positions, (*self.prefix, *prefix))


def origin(doc: SourceDoc, value: str | int, key: str | int) -> PathKey | None:
    """The path of ``doc``'s ``spec`` that a rendered or computed ``value`` (found under field ``key``) was copied
    from: the one path holding a string equal to it, or the one of several whose last key is ``key``. Integers are
    common (replicas, ports), so one is only traced to a field named ``key``. None when no single path qualifies."""
    if not isinstance(doc.data, dict) or not isinstance(doc.data.get("spec"), dict) or isinstance(value, bool):
        return None
    paths = [("spec", *p) for p in doc.sub(("spec",)).paths_holding(value)]
    if len(paths) > 1 or isinstance(value, int):
        paths = [p for p in paths if p[-1] == key]
    return paths[0] if len(paths) == 1 else None


def format_path(path: PathKey) -> str:
    """``spec.containers[0].name`` style rendering of a field path."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def deeper_than(data: Any, limit: int) -> PathKey | None:
    """The path of the first value nested more than ``limit`` mappings/lists deep in ``data``, else None.
    Iterative, so it never recurses however deep ``data`` is."""
    stack: list[tuple[Any, PathKey]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > limit:
            return path
        if isinstance(value, dict):
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))
    return None


def check_value_depth(doc: SourceDoc, what: str) -> Diagnostic | None:
    """A located error when ``doc`` (a spec or an overlay) nests deeper than CEL can take (MAX_VALUE_DEPTH)."""
    path = deeper_than(doc.data, MAX_VALUE_DEPTH)
    if path is None:
        return None
    return Diagnostic(f"{what} nested deeper than {MAX_VALUE_DEPTH} levels: rules see it as a CEL message, "
                      "which can't nest deeper", doc.location(path), format_path(path[:MAX_VALUE_DEPTH]))


def load_file(path: Path, display: str | None = None) -> list[SourceDoc]:
    """Every non-empty document of a YAML file; raises InputError naming file:line:col on bad YAML, a file
    that is not a regular file (see :mod:`fedrender.models.inputfile`) or bytes that are not UTF-8."""
    name = display or str(path)
    return load_text(read_text(path, name), name)


def load_text(text: str, name: str) -> list[SourceDoc]:
    docs: list[SourceDoc] = []
    # The loader both composes the nodes and constructs the scalars: what its constructor remembers about
    # them goes away with it, rather than piling up for the life of the process.
    loader = _Loader(text)
    # The tree of a large document (a List of thousands of clusters) is one graph of millions of objects, all
    # alive until it is built: the cyclic collector would walk it again and again for nothing (there are no
    # cycles to find). It is paused while the file is read, and collects afterwards as usual.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for index, node in enumerate(_compose_all(loader)):
            if node is None:
                continue
            doc = SourceDoc(name, index, None)
            doc.data = _Builder(doc, loader).build(node, (), aliased=False)
            if doc.data is not None:
                docs.append(doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name)
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise InputError([Diagnostic(f"invalid YAML: {problem}", loc)]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise InputError([Diagnostic(f"invalid YAML: character #x{exc.character:04x} is not allowed "
                                     f"({exc.reason})", Location(name, line, col))]) from None
    except yaml.YAMLError as exc:
        raise InputError([Diagnostic(f"invalid YAML: {exc}", Location(name))]) from None
    finally:
        loader.dispose()
        if collecting:
            gc.enable()
    return docs


def _compose_all(loader: _Loader) -> Iterator[yaml.Node | None]:
    while loader.check_node():
        yield loader.get_node()


def _mark(node: yaml.Node) -> Scalar:
    style = node.style if isinstance(node, yaml.ScalarNode) else None
    return Scalar(node.start_mark.line + 1, node.start_mark.column + 1, style)


def allowed_alias_ratio(decodes: int) -> float:
    """The share of a document's values that may come from aliases: 99% up to 400,000 values, falling to
    10% at 4,000,000 (go-yaml v2.2.8/v3 ``allowedAliasRatio``, which Kubernetes' YAML decoding uses)."""
    if decodes <= _ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


class _Builder:
    """One document's walk from nodes to values, with its counters (aliases leave the same node object in
    several places of the tree: the first visit of a node is its definition, every later one an alias)."""

    def __init__(self, doc: SourceDoc, loader: _Loader) -> None:
        self.doc = doc
        self.loader = loader
        self.seen: set[int] = set()
        self.active: set[int] = set()
        self.decodes = 0
        self.alias_decodes = 0
        self.alias_chars = 0

    def build(self, node: yaml.Node, path: PathKey, aliased: bool) -> Any:
        if len(path) > MAX_DEPTH:
            raise InputError([self.at(node, f"nested deeper than {MAX_DEPTH} levels")])
        ident = id(node)
        if ident in self.active:
            raise InputError([self.at(node, "this anchor's value contains an alias to itself", path)])
        if ident in self.seen and not aliased:
            self.decodes += 1  # the alias itself, as go-yaml counts it
            aliased = True
        self.seen.add(ident)
        self.count(node, path, aliased)
        self.doc.positions[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            self.active.add(ident)
            out = self.mapping(node, path, aliased)
            self.active.discard(ident)
            self.doc.positions[path] = _mark(node)
            return out
        if isinstance(node, yaml.SequenceNode):
            self.active.add(ident)
            items = [self.build(item, (*path, i), aliased) for i, item in enumerate(node.value)]
            self.active.discard(ident)
            return items
        if aliased:
            self.alias_chars += len(node.value)
            if self.alias_chars > MAX_ALIAS_CHARS:
                raise InputError([self.at(node, f"aliases expand to more than {MAX_ALIAS_CHARS} characters",
                                          path)])
        return self.scalar(node, path)

    def count(self, node: yaml.Node, path: PathKey, aliased: bool) -> None:
        """One more value (a key, a value, a collection) decoded; go-yaml's alias-ratio check."""
        self.decodes += 1
        if aliased:
            self.alias_decodes += 1
            if self.alias_decodes > 100 and self.decodes > 1000 \
                    and self.alias_decodes / self.decodes > allowed_alias_ratio(self.decodes):
                raise InputError([self.at(node, f"excessive aliasing: {self.alias_decodes} of the document's "
                                          f"{self.decodes} values so far come from aliases", path)])

    def mapping(self, node: yaml.MappingNode, path: PathKey, aliased: bool) -> dict[str, Any]:
        merges = [(k, v) for k, v in node.value if k.tag == _MERGE]
        if len(merges) > 1:
            raise InputError([self.at(merges[1][0], "duplicate merge key '<<'", path)])
        # Merged keys first, so that explicit keys (and their positions) win, as YAML 1.1 says.
        out = self.merge(merges[0][1], path, aliased) if merges else {}
        explicit: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.key(key_node, path)
            self.count(key_node, path, aliased)
            if key in explicit:
                raise InputError([self.at(key_node, f"duplicate key {key!r}", (*path, key))])
            explicit.add(key)
            self.doc.key_positions[(*path, key)] = _mark(key_node)
            out[key] = self.build(value_node, (*path, key), aliased)
        return out

    def merge(self, node: yaml.Node, path: PathKey, aliased: bool) -> dict[str, Any]:
        """The value of a merge key: a mapping, or a list of mappings where earlier ones win (YAML 1.1)."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if not all(isinstance(s, yaml.MappingNode) for s in sources):
            raise InputError([self.at(node, "a merge key '<<' takes a mapping or a list of mappings", path)])
        out: dict[str, Any] = {}
        for source in reversed(sources):
            out.update(self.build(source, path, aliased))
        return out

    def key(self, node: yaml.Node, path: PathKey) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise InputError([self.at(node, "mapping keys must be strings", path)])
        key = self.scalar(node, path)
        if isinstance(key, (int, float, bool)) or key is None:
            key = str(key)
        if not isinstance(key, str):
            raise InputError([self.at(node, "mapping keys must be strings", path)])
        return key

    def scalar(self, node: yaml.Node, path: PathKey) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(None, None, "expected a scalar", node.start_mark)
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value
        if node.tag == _INT and len(node.value) > 100:  # int64 in binary with _ fits; Python's int() limit stays far
            raise InputError([self.at(node, f"integer of {len(node.value)} characters: a Kubernetes object holds "
                                      "64-bit integers (quote it to make it a string)", path)])
        value = self._number(node, path) if node.tag in (_INT, _FLOAT) and node.value.lower() not in SPECIAL_FLOATS \
            else self.loader.construct_object(node)
        if isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
            shown = "an integer" if is_secret_field(path) else f"integer {value}"
            raise InputError([self.at(node, f"{shown} is out of the 64-bit range of Kubernetes objects "
                                      "(quote it to make it a string)", path)])
        if isinstance(value, float) and not math.isfinite(value):
            shown = "the value" if is_secret_field(path) else node.value
            raise InputError([self.at(node, f"{shown} is not a JSON number (Kubernetes objects are JSON); "
                                      "quote it to make it a string", path)])
        return value

    def _number(self, node: yaml.Node, path: PathKey) -> int | float:
        """A scalar resolved (or tagged ``!!int``/``!!float``) as a number, read as go-yaml v2 reads it."""
        number = go_number(str(node.value))
        if number is None or (node.tag == _INT and isinstance(number, float)):
            shown = "the value" if is_secret_field(path) else repr(node.value)
            kind = "an integer" if node.tag == _INT else "a number"
            raise InputError([self.at(node, f"{shown} is not {kind} as Kubernetes reads YAML (go-yaml)", path)])
        return float(number) if node.tag == _FLOAT else number

    def at(self, node: yaml.Node, message: str, path: PathKey | str = "") -> Diagnostic:
        mark = _mark(node)
        where = path if isinstance(path, str) else format_path(path)
        return Diagnostic(message, Location(self.doc.file, mark.line, mark.col), where)
