"""The state file, ``<out>/.fedrender/state.json``: what the last render placed and wrote.

It makes placement sticky (members keep cluster, ``_id``, ordinal and nodePort) and pruning safe (only the
files listed here are ever removed). ``schemaVersion`` changes whenever its meaning does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fedrender.models.base import Strict

SCHEMA_VERSION = 1
PATH = ".fedrender/state.json"


class MemberState(Strict):
    id: int = Field(ge=0)
    cluster: str
    ordinal: int = Field(ge=0)
    host: str
    nodePort: int
    votes: int
    priority: int
    arbiterOnly: bool = False


class InstanceState(Strict):
    pack: str
    initCluster: str
    placement: dict[str, int]
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
    instances: dict[str, InstanceState] = Field(description="keyed by namespace/name")
    files: list[str]
