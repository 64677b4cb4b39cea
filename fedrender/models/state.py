"""The state file, ``<out>/.fedrender/state.json``: what the last render placed and wrote.

It makes placement sticky (members keep cluster, ``_id``, ordinal and nodePort) and pruning safe (only the
files listed here are ever removed; :mod:`fedrender.pipeline.write` checks each entry). ``schemaVersion`` changes
whenever its meaning does.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field

from fedrender.models import names
from fedrender.models.base import ClusterName, Strict, checked

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
