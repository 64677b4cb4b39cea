"""The state file, ``<out>/.fedrender/state.json``: what the last render placed and wrote.

It makes placement sticky (members keep cluster, ``_id``, ordinal and nodePort) and pruning safe (only the
files listed here are ever removed; :mod:`fedrender.pipeline.write` checks each entry). ``schemaVersion`` changes
whenever its meaning does.
"""

from __future__ import annotations

import json
from typing import Annotated, Final, Literal

from pydantic import Field, model_validator

from fedrender.models import names
from fedrender.models.base import ClusterName, Strict, checked
from fedrender.models.diagnostics import InputError, Location
from fedrender.models.source import format_path, load_text

SCHEMA_VERSION: Final = 2
"""Written by this fedrender. Version 1 (before ``initialized`` and ``leaving``) is still read: its instances are
not known to be initialised and none of its members is leaving (the defaults)."""
READ_VERSIONS: Final = (1, 2)
PATH = ".fedrender/state.json"


def _instance_key(key: str) -> list[str]:
    namespace, slash, name = key.partition("/")
    if not slash:
        return [f"{key!r} is not namespace/name"]
    return names.dns1123_label(namespace, "namespace") + names.dns1123_subdomain(name)


InstanceKey = Annotated[str, checked(_instance_key)]


INT32_MAX: Final = 2**31 - 1


class MemberState(Strict):
    """One replica set member as the last render placed it (MongoDB manual, ``replSetGetConfig``: ``_id``,
    ``votes`` 0 or 1, ``priority`` 0-1000)."""

    id: int = Field(ge=0, le=INT32_MAX)
    cluster: ClusterName
    ordinal: int = Field(ge=0, le=INT32_MAX)
    host: str
    nodePort: int = Field(ge=0, le=65535)
    votes: int = Field(ge=0, le=1)
    priority: int = Field(ge=0, le=1000)
    arbiterOnly: bool = False
    leaving: bool = Field(default=False, description=(
        "the member is leaving the replica set configuration (votes and priority 0, then removed by the "
        "reconciler); its pod, Service and NodePort stay until an observed state shows it out of the "
        "configuration, so it still counts in placement and ordinals stay contiguous"))

    @model_validator(mode="after")
    def _leaving_does_not_vote(self) -> MemberState:
        if self.leaving and (self.votes or self.priority):
            raise ValueError(f"member {self.id} is leaving but has votes {self.votes} and priority {self.priority}; "
                             "a leaving member has votes 0 and priority 0 (MongoDB removes a member only once it "
                             "no longer votes: one voting change per replSetReconfig)")
        return self


class InstanceState(Strict):
    """One instance of the last render. Its parts must agree, as a render writes them: a hand-edited state
    that doesn't is refused at its line (it would otherwise place members on ordinals with no Service)."""

    pack: str
    initCluster: ClusterName
    placement: dict[ClusterName, int]
    members: list[MemberState]
    nodePorts: dict[str, int] = Field(description="pod ordinal (as a string) -> nodePort")
    initialized: bool = Field(default=False, description=(
        "an observed state showed the replica set initiated: the roster says so from then on and never again "
        "false, so no reconciler initiates it again, even in a new init cluster"))

    @model_validator(mode="after")
    def _consistent(self) -> InstanceState:
        ids = [m.id for m in self.members]
        if len(set(ids)) != len(ids):
            raise ValueError(f"member _ids repeat ({sorted(i for i in set(ids) if ids.count(i) > 1)}): each "
                             "member has its own _id")
        if sum(m.arbiterOnly for m in self.members) > 1:
            raise ValueError("more than one member is an arbiter; a render places at most one")
        data: dict[str, list[int]] = {}
        for m in self.members:
            if not m.arbiterOnly:
                data.setdefault(m.cluster, []).append(m.ordinal)
        counts = {cluster: len(ordinals) for cluster, ordinals in data.items()}
        if counts != {c: n for c, n in self.placement.items() if n}:
            raise ValueError(f"placement {dict(sorted(self.placement.items()))} does not count the members per "
                             f"cluster {dict(sorted(counts.items()))}")
        for cluster, ordinals in sorted(data.items()):
            if sorted(ordinals) != list(range(len(ordinals))):
                raise ValueError(f"the members in {cluster} have ordinals {sorted(ordinals)}; a StatefulSet's "
                                 f"pods are numbered 0 to {len(ordinals) - 1}")
            missing = sorted(str(o) for o in ordinals if str(o) not in self.nodePorts)
            if missing:
                raise ValueError(f"nodePorts has no port for ordinal {', '.join(missing)}")
        return self


class Tool(Strict):
    name: Literal["fedrender"]
    version: str


class PackState(Strict):
    version: str
    digest: str


class State(Strict):
    schemaVersion: Literal[1, 2]
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
