"""Canonical YAML: one object per file, stable key order, same inputs -> same bytes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

try:
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]

_FIRST = ("apiVersion", "kind", "metadata", "spec")


class _Dumper_(_Dumper):
    """Multi-line strings (scripts, config files) as literal blocks, so they read well in a pull request."""


def _str(dumper: _Dumper_, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not any(line != line.rstrip() for line in value.splitlines()) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper_.add_representer(str, _str)


def canonical(obj: Any, top: bool = True) -> Any:
    """Keys ordered: apiVersion, kind, metadata, spec first at the top, everything else sorted."""
    if isinstance(obj, Mapping):
        keys = sorted(obj, key=lambda k: (_FIRST.index(k) if top and k in _FIRST else len(_FIRST), k))
        return {k: canonical(obj[k], False) for k in keys}
    if isinstance(obj, list):
        return [canonical(v, False) for v in obj]
    return obj


def dump(obj: Mapping[str, Any]) -> bytes:
    text = yaml.dump(canonical(obj), Dumper=_Dumper_, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1_000_000)
    return text.encode("utf-8")


def dump_all(objects: list[Mapping[str, Any]]) -> str:
    """Several objects as one YAML stream, each canonical."""
    return "---\n".join(dump(o).decode() for o in objects)


def filename(obj: Mapping[str, Any]) -> str:
    """``<kind>-<name>.yaml``, lowercase."""
    return f"{str(obj['kind']).lower()}-{str(obj['metadata']['name']).lower()}.yaml"
