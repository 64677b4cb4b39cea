"""The state file, ``<out>/.fedrender/state.json``: what the last render placed and wrote.

It makes placement sticky (members keep cluster, ``_id``, ordinal and nodePort) and pruning safe (only the
files listed here are ever removed; :mod:`fedrender.pipeline.write` checks each entry). ``schemaVersion`` changes
whenever its meaning does.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Final, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from fedrender.models import names
from fedrender.models.base import ClusterName, Strict, checked
from fedrender.models.diagnostics import Diagnostic, InputError, Location
from fedrender.models.source import format_path, load_text

SCHEMA_VERSION: Final = 2
"""Written by this fedrender. Version 1 (before ``initialized`` and ``leaving``) is still read: its instances are
not known to be initialised and none of its members is leaving (the defaults). ``version``, ``image`` and
``featureCompatibilityVersion`` are optional in version 2: a state without them records no version, and the next
render's version is recorded without a check."""
READ_VERSIONS: Final = (1, 2)
PATH = ".fedrender/state.json"


def _instance_key(key: str) -> list[str]:
    namespace, slash, name = key.partition("/")
    if not slash:
        return [f"{key!r} is not namespace/name"]
    return names.dns1123_label(namespace, "namespace") + names.dns1123_subdomain(name)


InstanceKey = Annotated[str, checked(_instance_key)]


INT32_MAX: Final = 2**31 - 1
NodePort = Annotated[int, Field(ge=1, le=65535)]
"""A Service's ``nodePort`` as the API server takes it: 1-65535 (core/v1 ServicePort)."""


def _refuse(message: str, *at: str | int) -> PydanticCustomError:
    """An inconsistency of the state at the field path ``at`` below the model that finds it (``parse_state``
    locates it there: the line of the offending entry, not of the whole instance)."""
    return PydanticCustomError("inconsistent_state", message, {"at": at})


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
        "configuration, so it still counts in placement and ordinals stay contiguous; a leaving arbiter keeps "
        "its vote (MongoDB: an arbiter always votes) and leaves in one reconfig"))

    @model_validator(mode="after")
    def _leaving_does_not_vote(self) -> MemberState:
        if self.arbiterOnly and (self.votes != 1 or self.priority):
            raise ValueError(f"member {self.id} is an arbiter with votes {self.votes} and priority {self.priority}; "
                             "an arbiter has votes 1 and priority 0 (MongoDB refuses any other)")
        if self.leaving and not self.arbiterOnly and (self.votes or self.priority):
            raise ValueError(f"member {self.id} is leaving but has votes {self.votes} and priority {self.priority}; "
                             "a leaving member has votes 0 and priority 0 (MongoDB removes a member only once it "
                             "no longer votes: one voting change per replSetReconfig)")
        return self


class ClaimState(Strict):
    """One claim template of a StatefulSet: the size its ``volumeClaimTemplates`` entry keeps (the size the
    StatefulSet was first rendered with: the API server refuses any change of it, ``ValidateStatefulSetUpdate``)
    and the size the members' PersistentVolumeClaims are asked to have (grown by the reconciler through each
    claim, never shrunk: core validation ``ValidatePersistentVolumeClaimUpdate``)."""

    template: str = Field(description="Kubernetes quantity the volumeClaimTemplates entry keeps, e.g. 10Gi")
    requested: str = Field(description="Kubernetes quantity each member's claim is grown to, e.g. 20Gi")


class WorkloadState(Strict):
    """One StatefulSet of an instance: per member cluster holding it, the immutable part of its spec as that
    cluster received it (overrides applied; :func:`fedrender.day2.immutable.immutable_spec`), and its claims."""

    clusters: dict[ClusterName, dict[str, Any]] = Field(default_factory=dict, description=(
        "cluster -> the StatefulSet spec fields no update may change (selector, serviceName, podManagementPolicy, "
        "volumeClaimTemplates), as that cluster received them"))
    claims: dict[str, ClaimState] = Field(default_factory=dict, description="claim template name -> sizes")


class InstanceState(Strict):
    """One instance of the last render. Its parts must agree, as a render writes them: a hand-edited state
    that doesn't is refused at its line (it would otherwise place members on ordinals with no Service)."""

    pack: str
    initCluster: ClusterName
    placement: dict[ClusterName, int]
    members: list[MemberState]
    nodePorts: dict[str, NodePort] = Field(description="member Service (pod ordinal as a string, \"arbiter\", "
                                           "or \"<ordinal>/<port name>\") -> nodePort")
    initialized: bool = Field(default=False, description=(
        "an observed state showed the replica set initiated: the roster says so from then on and never again "
        "false, so no reconciler initiates it again, even in a new init cluster"))
    workloads: dict[str, WorkloadState] = Field(default_factory=dict, description=(
        "\"StatefulSet/<name>\" -> what each member cluster holds of it that the API server will not let "
        "change (a later render that changes it is refused) and its claim sizes"))
    version: str = Field(default="", pattern=r"^([0-9]+[.][0-9]+)?$", description=(
        "the release (major.minor) the rendered image runs, '' when unknown (a digest-only image, or a state "
        "from before versions were recorded): the next render judges a version change against it"))
    image: str = Field(default="", description=(
        "the members' image as rendered (the pack's lifecycle.image variable): what a held upgrade keeps"))
    featureCompatibilityVersion: str = Field(default="", pattern=r"^([0-9]+[.][0-9]+)?$", description=(
        "the featureCompatibilityVersion the render asked the reconciler for, '' for none"))

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
        self._ports_agree()
        return self

    def _ports_agree(self) -> None:
        """NodePorts and hosts as a render writes them: every Service its own nodePort (the API server refuses
        two Services with one), each member on the nodePort of its ordinal (or of the arbiter), its host
        ``<VIP of its cluster>:<nodePort>``, no two members with one host (MongoDB refuses a replica set
        config that repeats a host), and the init cluster holding members."""
        seen: dict[int, str] = {}
        for key, port in self.nodePorts.items():
            if port in seen:
                raise _refuse(f"nodePorts gives {key!r} the nodePort {port} of {seen[port]!r}: each member Service "
                              "needs its own nodePort (the API server refuses two Services with one, and the "
                              "members would share a host, which MongoDB refuses in a replica set config)",
                              "nodePorts", key)
            seen[port] = key
        addresses: dict[str, tuple[str, int]] = {}
        hosts: dict[str, int] = {}
        for index, m in enumerate(self.members):
            key = "arbiter" if m.arbiterOnly else str(m.ordinal)
            if key not in self.nodePorts:
                raise _refuse(f"nodePorts has no port for the {key if m.arbiterOnly else 'ordinal ' + key} of "
                              f"member {m.id}", "members", index)
            if m.nodePort != self.nodePorts[key]:
                raise _refuse(f"member {m.id} has nodePort {m.nodePort} but nodePorts gives its "
                              f"{'arbiter' if m.arbiterOnly else 'ordinal ' + key} {self.nodePorts[key]}",
                              "members", index, "nodePort")
            address, colon, host_port = m.host.rpartition(":")
            if not colon or host_port != str(m.nodePort) or not address:
                raise _refuse(f"member {m.id} has host {m.host!r}; a member's host is the VIP of its cluster and "
                              f"its nodePort ({m.nodePort})", "members", index, "host")
            if m.host in hosts:
                raise _refuse(f"members {self.members[hosts[m.host]].id} and {m.id} have the same host {m.host!r}; "
                              "MongoDB refuses a replica set config that repeats a host", "members", index, "host")
            hosts[m.host] = index
            known = addresses.setdefault(m.cluster, (address, index))
            if known[0] != address:
                raise _refuse(f"member {m.id} in {m.cluster} has the address {address!r}, member "
                              f"{self.members[known[1]].id} in the same cluster {known[0]!r}; the members of a "
                              "cluster share its VIP", "members", index, "host")
        if self.members and self.initCluster not in addresses:
            raise _refuse(f"initCluster {self.initCluster!r} holds no member (members are in "
                          f"{', '.join(sorted(addresses))})", "initCluster")


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

    @model_validator(mode="after")
    def _ports_unique(self) -> State:
        """NodePorts are allocated collision-free across everything rendered: two instances never share one."""
        seen: dict[int, tuple[str, str]] = {}
        for name, instance in self.instances.items():
            for key, port in instance.nodePorts.items():
                if port in seen and seen[port][0] != name:
                    raise _refuse(f"instance {name} has the nodePort {port} of instance {seen[port][0]} (its "
                                  f"{seen[port][1]!r}): each member Service needs its own nodePort (the API server "
                                  "refuses two Services with one)", "instances", name, "nodePorts", key)
                seen.setdefault(port, (name, key))
        return self


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"duplicate key {key!r}")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """``object_pairs_hook`` of :func:`json.loads` that refuses a key repeated in one object."""
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def duplicate_key(name: str, text: str | bytes) -> Diagnostic | None:
    """``duplicate key 'files'`` at its line and column when a state file repeats a key in one JSON object
    (``{"files": [], ..., "files": [...]}``), else None (also when it is no JSON: its reader reports that).

    Python's and pydantic's JSON readers keep the last value without a word: a repeated ``files`` would hide
    the list pruning reads. Located by the YAML reader (JSON is YAML), which refuses duplicate keys at their
    line and column."""
    try:
        json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as dup:
        try:
            load_text(text.decode(errors="replace") if isinstance(text, bytes) else text, name)
        except InputError as exc:
            first = exc.diagnostics[0]
            if first.message == str(dup):
                return first
        shown = text.decode(errors="replace") if isinstance(text, bytes) else text
        keys = [m.start() for m in re.finditer(re.escape(json.dumps(dup.key)) + r"\s*:", shown)]
        at = keys[1] if len(keys) > 1 else keys[0] if keys else 0  # the YAML reader failed first: the second one
        line = shown.count("\n", 0, at) + 1
        return Diagnostic(str(dup), Location(name, line, at - shown.rfind("\n", 0, at)))
    except (ValueError, RecursionError):
        return None
    return None


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
