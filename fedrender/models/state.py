"""The state file, ``<out>/.fedrender/state.json``: what the last render placed and wrote.

It makes placement sticky (members keep cluster, ``_id``, ordinal and nodePort) and pruning safe (only the
files listed here are ever removed; :mod:`fedrender.pipeline.write` checks each entry). ``schemaVersion`` changes
whenever its meaning does.
"""

from __future__ import annotations

import json
from typing import Annotated, Final, Literal

from pydantic import Field

from fedrender.models import names
from fedrender.models.base import ClusterName, Strict, checked
from fedrender.models.diagnostics import InputError, Location
from fedrender.models.source import format_path, load_text

SCHEMA_VERSION: Final = 1
PATH = ".fedrender/state.json"


def _instance_key(key: str) -> list[str]:
    namespace, slash, name = key.partition("/")
    if not slash:
        return [f"{key!r} is not namespace/name"]
    return names.dns1123_label(namespace, "namespace") + names.dns1123_subdomain(name)


InstanceKey = Annotated[str, checked(_instance_key)]


class MemberState(Strict):
    id: int = Field(ge=0)
    cluster: ClusterName
    ordinal: int = Field(ge=0)
    host: str
    nodePort: int
    votes: int
    priority: int
    arbiterOnly: bool = False


class InstanceState(Strict):
    pack: str
    initCluster: ClusterName
    placement: dict[ClusterName, int]
    members: list[MemberState]
    nodePorts: dict[str, int] = Field(description="pod ordinal (as a string) -> nodePort")


class Tool(Strict):
    name: Literal["fedrender"]
    version: str


class PackState(Strict):
    version: str
    digest: str


class State(Strict):
    schemaVersion: Literal[1]
    tool: Tool
    rulePacks: dict[str, PackState]
    inputs: dict[str, str]
    instances: dict[InstanceKey, InstanceState] = Field(description="keyed by namespace/name")
    files: list[str]


def state_location(name: str, text: str | bytes, loc: tuple[str | int, ...]) -> tuple[Location, str]:
    """Where in a state file that failed validation the first problem is: the JSON syntax error's line and
    column, else the line and column of the field ``loc`` (or its closest parent), with its field path."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return Location(name, exc.lineno, exc.colno), ""
    except (ValueError, RecursionError):  # a number past Python's int limit, nesting past its JSON decoder:
        pass  # the bounded YAML reader (JSON is YAML) locates both
    try:
        docs = load_text(text.decode(errors="replace") if isinstance(text, bytes) else text, name)
    except InputError as exc:
        return exc.diagnostics[0].location or Location(name), ""
    path = tuple(p for p in loc if isinstance(p, int) or p != "[key]")
    return (docs[0].location(path) if docs else Location(name)), format_path(path)
