"""The values rules see. Their JSON Schemas become typed CEL message types (see ``fedrender.cel.types``)."""

from __future__ import annotations

from pydantic import Field

from fedrender.models.base import Strict


class TaintView(Strict):
    key: str
    value: str = ""
    effect: str


class ClusterTargetView(Strict):
    """``cluster`` in ``memberRequests`` and ``memberInitRequests``: the cluster whose members ask for these
    resources (its tier label, provider, region), without what fits there, which follows from them."""

    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    provider: str = ""
    region: str = ""
    zone: str = ""
    zones: list[str] = Field(default_factory=list)


class ClusterView(ClusterTargetView):
    """``cluster`` in filter, score, ``memberLimit`` and override rules: the cluster and what fits there."""

    ready: bool = Field(description="the Ready condition is True")
    readyReason: str = Field(default="", description="reason and message of a Ready condition that is not True")
    taints: list[TaintView] = Field(default_factory=list)
    vip: str = Field(default="", description="external address of the cluster (label `vip`, or the overlay)")
    vipLabel: str = Field(default="", description=(
        "`vip` as a label value: IPv4 and DNS names of at most 63 characters as they are, IPv6 expanded with '-' "
        "for ':' (label values can't hold ':'), empty when a DNS name is too long for a label"))
    allocatable: dict[str, str] = Field(default_factory=dict)
    readyNodes: int = Field(default=-1, description="nodes Ready in the cluster (status.nodeSummary.readyNum); -1 "
                                                   "when the snapshot doesn't say")
    fits: int = Field(default=0, description=(
        "members that fit, by Karmada's general estimator, within the pack's scheduling.memberLimit"))
    capacity: str = Field(default="", description="which resource limits `fits`, in words")
    estimate: str = Field(default="resourceSummary", description=(
        "which of Karmada's estimates gave `fits`: resourceModels (the cluster's resource models and "
        "allocatableModelings) or resourceSummary"))


class MetadataView(Strict):
    """``metadata`` of the instance being rendered (namespace defaulted)."""

    name: str
    namespace: str
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class MemberView(Strict):
    """One replica-set member: ``member`` in role rules, items of ``members`` in templates and checks."""

    id: int
    cluster: str
    ordinal: int
    host: str
    nodePort: int = 0
    nodePorts: dict[str, int] = Field(default_factory=dict, description="nodePort of each of the pack's memberPorts")
    votes: int = 0
    priority: int = 0
    tags: dict[str, str] = Field(default_factory=dict)
    arbiterOnly: bool = Field(default=False, description="a voting member that holds no data")
    voter: bool = Field(default=False, description=(
        "chosen to vote by fedrender.scheduler.voters: at most 7 members, an odd number (an arbiter counted, and "
        "always chosen), no cluster, then no region, zone or provider holding a majority where avoidable, as few "
        "votes changed since the last render as possible"))
    leaving: bool = Field(default=False, description=(
        "leaving the replica set configuration (the first phase of a scale-down): votes and priority 0, its pod "
        "and Service kept until an observed state shows it out of the configuration"))


class OrdinalView(Strict):
    """``ordinal`` in ``forEach: ordinal`` templates: one per pod ordinal used in any cluster."""

    index: int
    nodePort: int
    nodePorts: dict[str, int] = Field(default_factory=dict, description="nodePort of each of the pack's memberPorts")
    clusters: list[str] = Field(default_factory=list)
