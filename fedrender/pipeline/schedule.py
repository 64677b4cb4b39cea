"""Scheduling stage of the pipeline: cluster views, rule verdicts and the sticky placement of one instance."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from fedrender.day2.observe import Observation
from fedrender.models import names, resources
from fedrender.models.cluster import Cluster
from fedrender.models.diagnostics import Diagnostic, Diagnostics
from fedrender.models.overlay import Overlay
from fedrender.models.source import SourceDoc, format_path, origin
from fedrender.models.state import InstanceState, WorkloadState
from fedrender.models.views import ClusterTargetView, ClusterView, MemberView, MetadataView, TaintView
from fedrender.pipeline import scaledown
from fedrender.pipeline.load import SpecInput
from fedrender.pipeline.spreads import above_members, spread_location
from fedrender.rules import evaluate
from fedrender.rules import settings as pack_settings
from fedrender.rules.pack import Pack
from fedrender.scheduler.capacity import (
    ClusterResources,
    allocatable_resources,
    estimate_free,
    free_resources,
    member_requests,
    resource_models,
)
from fedrender.scheduler.majority import voting_majorities
from fedrender.scheduler.placement import (
    CLUSTER,
    Candidate,
    Infeasible,
    Move,
    Placement,
    Slot,
    Spread,
    place,
    place_arbiter,
)
from fedrender.scheduler.voters import Seat, VoteChange, Voting, choose_voters

GROUP_FIELDS = ("region", "zone", "provider")


@dataclass
class Snapshot:
    """The clusters, with what instances share: free resources, and views per (member request, members kept)."""

    clusters: list[Cluster]
    overlay: Overlay
    resources: dict[str, ClusterResources] = field(default_factory=dict)
    _overlays: dict[str, Any] = field(default_factory=dict)
    _settings: dict[str, Any] = field(default_factory=dict)
    _views: dict[tuple[str, tuple[tuple[str, Fraction], ...], int], ClusterView] = field(default_factory=dict)
    _messages: dict[tuple[str, int], Any] = field(default_factory=dict)
    _targets: dict[tuple[str, str], Any] = field(default_factory=dict)
    _limited: dict[tuple[int, str, int, str], ClusterView] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for cluster in self.clusters:
            summary = cluster.status.resourceSummary if cluster.status else None
            models = resource_models(cluster.spec.resourceModels, summary.allocatableModelings) if summary else None
            self.resources[cluster.metadata.name] = ClusterResources(free_resources(summary), models,
                                                                     allocatable_resources(summary))

    def views(self, requests: Mapping[str, dict[str, Fraction]], kept: Mapping[str, int]) -> dict[str, ClusterView]:
        """Each cluster's view for members asking for ``requests[cluster]``, ``kept[cluster]`` of them there."""
        out = {}
        for cluster in self.clusters:
            name = cluster.metadata.name
            cache = (name, tuple(sorted(requests[name].items())), kept.get(name, 0))
            if cache not in self._views:
                self._views[cache] = cluster_view(cluster, self.overlay, self.resources[name], requests[name],
                                                 cache[2])
            out[name] = self._views[cache]
        return out

    def containers(self, pack: Pack, inst: evaluate.Instance) -> dict[str, Containers]:
        """Per cluster, the containers and init containers of a member there (``memberRequests`` and
        ``memberInitRequests``, evaluated once when they don't read ``cluster``)."""
        if not pack.requests_by_cluster:
            same = (evaluate.member_requests(pack, inst), evaluate.member_requests(pack, inst, init=True))
            return {c.metadata.name: same for c in self.clusters}
        out = {}
        for cluster in self.clusters:
            name = cluster.metadata.name
            if (pack.name, name) not in self._targets:
                self._targets[pack.name, name] = evaluate.cluster_target_message(pack, cluster_target(cluster))
            target = self._targets[pack.name, name]
            out[name] = (evaluate.member_requests(pack, inst, cluster=target, cluster_name=name),
                         evaluate.member_requests(pack, inst, init=True, cluster=target, cluster_name=name))
        return out

    def limited(self, pack: Pack, inst: evaluate.Instance, views: dict[str, ClusterView]) -> dict[str, ClusterView]:
        """``views`` with ``fits`` capped by the pack's ``memberLimit`` for ``inst`` (and ``capacity`` saying so)."""
        if pack.member_limit is None:
            return views
        out = {}
        for name, view in views.items():
            found = evaluate.member_limit(pack, inst, self.message(pack, view), name)
            if found is not None and (found[0] < 0 or found[0] < view.fits):
                key = (id(view), pack.name, *found)  # kept, so that message()'s cache by id stays right
                if key not in self._limited:
                    limit, reason = found
                    capped = {"fits": limit, "capacity": f"{view.capacity}; at most {limit} (memberLimit of pack "
                                                        f"{pack.name}: {reason or 'no reason given'})"}
                    self._limited[key] = view.model_copy(update=capped if limit >= 0 else {
                        "capacity": f"{view.capacity}; not limited by memberLimit of pack {pack.name}: {reason}"})
                view = self._limited[key]
            out[name] = view
        return out

    def overlay_message(self, pack: Pack) -> Any:
        if pack.name not in self._overlays:
            self._overlays[pack.name] = evaluate.overlay_message(pack, self.overlay)
        return self._overlays[pack.name]

    def settings_message(self, pack: Pack) -> Any:
        if pack.name not in self._settings:
            self._settings[pack.name] = evaluate.settings_message(pack, self.overlay)
        return self._settings[pack.name]

    def message(self, pack: Pack, view: ClusterView) -> Any:
        """The CEL value of ``view`` (cached: views are immutable and shared across instances)."""
        key = (pack.name, id(view))
        if key not in self._messages:
            self._messages[key] = evaluate.cluster_message(pack, view)
        return self._messages[key]


def cluster_view(cluster: Cluster, overlay: Overlay, resources: ClusterResources,
                 requests: dict[str, Fraction], kept: int = 0) -> ClusterView:
    """What rules see of ``cluster``. ``kept`` members of this instance already run there: the snapshot's
    ``allocated`` counts them, so they are added back when estimating what fits (see capacity)."""
    fit = estimate_free(resources, requests, kept)
    ready = cluster.ready_condition()
    overlay_vip = overlay.clusters[cluster.metadata.name].vip if cluster.metadata.name in overlay.clusters else ""
    reason = ""
    if ready is None:
        reason = "no Ready condition"
    elif ready.status != "True":
        reason = ": ".join(x for x in (ready.reason, ready.message) if x) or f"Ready={ready.status}"
    summary = cluster.status.resourceSummary if cluster.status else None
    vip = overlay_vip or cluster.metadata.labels.get("vip", "")
    return ClusterView(
        **cluster_target(cluster).model_dump(),
        ready=ready is not None and ready.status == "True",
        readyReason=reason,
        taints=[TaintView(key=t.key, value=t.value or "", effect=t.effect) for t in cluster.spec.taints],
        vip=vip,
        vipLabel=names.vip_label_value(vip),
        allocatable=dict(summary.allocatable) if summary else {},
        readyNodes=_ready_nodes(cluster),
        fits=fit.members,
        capacity=fit.explanation,
        estimate=fit.estimate,
    )


def cluster_target(cluster: Cluster) -> ClusterTargetView:
    """What ``memberRequests`` sees of ``cluster``, and the first fields of its :class:`ClusterView`."""
    return ClusterTargetView(name=cluster.metadata.name, labels=cluster.metadata.labels,
                             provider=cluster.spec.provider or "", region=cluster.spec.region or "",
                             zone=cluster.spec.zone or ",".join(sorted(cluster.spec.zones)), zones=cluster.spec.zones)


def _ready_nodes(cluster: Cluster) -> int:
    """``status.nodeSummary.readyNum``, or -1 when the snapshot doesn't say (or says something impossible)."""
    summary = cluster.status.nodeSummary if cluster.status else None
    ready = summary.readyNum if summary else None
    return ready if ready is not None and ready >= 0 else -1


@dataclass
class ClusterRow:
    """One row of ``explain``: a cluster's verdict for one instance."""

    eligible: str
    reason: str
    fits: int
    score: int
    before: int
    after: int
    estimate: str = ""
    """Which of Karmada's estimates gave ``fits`` (resourceModels or resourceSummary; empty: not in the snapshot)."""
    capacity: str = ""


@dataclass
class InstanceResult:
    namespace: str
    name: str
    pack: str
    placement: dict[str, int]
    members: list[MemberView]
    excluded: dict[str, str]
    rows: dict[str, ClusterRow]
    moves: list[Move]
    init_cluster: str
    arbiter: Slot | None = None
    node_ports: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)
    voting: Voting = field(default_factory=lambda: Voting(frozenset(), 0))
    vote_changes: list[VoteChange] = field(default_factory=list)
    """Members of the previous render whose rendered votes change, with why (set when roles are evaluated)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The pack's settings in effect (an overlay's ``values.<pack>`` over the defaults)."""
    observed: dict[str, Any] | None = None
    """What the snapshot's MongoReplicaSet says and whether it counts (``fedrender.day2.observe.Observation``'s
    summary: present, generation, observedGeneration, usable, reason, initialized, configVersion, phase, members);
    set by the render pipeline after planning; None for a pack that renders no MongoReplicaSet."""
    observed_text: str = ""
    """The same in one line, for text ``explain``."""
    initialized: bool = False
    """What the rendered roster says (``spec.initialized``): the previous state's, or the observation's."""
    waiting: list[str] = field(default_factory=list)
    """Steps this render holds back until an observed state allows them, each saying what it waits for
    (``fedrender.day2.observe.waiting``; a scale-down's members that leave the configuration first)."""
    allowed: list[str] = field(default_factory=list)
    """Steps a usable observed state allowed (members that left the configuration: their pods go)."""
    leaving: frozenset[int] = frozenset()
    """``_id``s of the members leaving the configuration (``fedrender.day2.scaledown``): votes and priority 0."""
    workloads: dict[str, WorkloadState] = field(default_factory=dict)
    """Per StatefulSet, what each receiving cluster holds of its immutable fields, and its claim sizes (for the
    state; :mod:`fedrender.pipeline.workloads`)."""
    storage: list[str] = field(default_factory=list)
    """Storage growth carried out through the PersistentVolumeClaims, one line per claim template."""
    template_hash: str = ""
    """The pod templates' hash rendered into the roster (``fedrender.composer.templatehash``)."""
    rollout: str = ""
    """A rolling update this render starts, or the observed one's progress (``fedrender.day2.rollout``)."""
    version: str = ""
    """The release rendered (the pack's ``lifecycle``; the previous one while an upgrade waits), "" unknown."""
    image: str = ""
    """The members' image rendered (the pack's ``lifecycle.image`` variable)."""
    feature_compatibility_version: str = ""
    """The featureCompatibilityVersion asked of the reconciler, "" for none (``fedrender.day2.versions``)."""

    def explain(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "placement": dict(sorted(self.placement.items())),
            "members": [{"id": m.id, "cluster": m.cluster, "ordinal": m.ordinal, "host": m.host,
                         "votes": m.votes, "priority": m.priority} for m in self.members],
            "excluded": dict(sorted(self.excluded.items())),
            "arbiter": self.arbiter.id if self.arbiter else None,
            "moves": [{"id": m.id, "from": m.source, "to": m.target, "reason": m.reason} for m in self.moves],
            "voteChanges": [{"id": c.id, "from": c.before, "to": c.after, "reason": c.reason}
                            for c in self.vote_changes],
            "capacity": {name: {"fits": row.fits, "estimate": row.estimate, "detail": row.capacity}
                         for name, row in sorted(self.rows.items()) if row.estimate},
            "warnings": list(self.warnings),
            "settings": dict(sorted(self.settings.items())),
            "initialized": self.initialized,
            "observed": self.observed,
            "waiting": list(self.waiting),
            **({"allowed": list(self.allowed)} if self.allowed else {}),
            **({"leaving": sorted(self.leaving)} if self.leaving else {}),
            **({"storage": list(self.storage)} if self.storage else {}),
            **({"rollout": self.rollout} if self.rollout else {}),
            **({"version": self.version} if self.version else {}),
            **({"featureCompatibilityVersion": self.feature_compatibility_version}
               if self.feature_compatibility_version else {}),
        }


@dataclass
class Planned:
    spec: SpecInput
    inst: evaluate.Instance
    placement: Placement
    views: dict[str, ClusterView]
    result: InstanceResult
    snapshot: Snapshot
    previous: InstanceState | None
    spreads: list[Spread] = field(default_factory=list)
    requests: dict[str, dict[str, Fraction]] = field(default_factory=dict)
    """Per cluster name, what a member asks for there, as scheduling counted it (Prepared.requests)."""


Containers = tuple[list[dict[str, dict[str, str]]], list[dict[str, dict[str, str]]]]
"""A member's containers and init containers, each ``{"requests": {...}, "limits": {...}}`` of quantity strings."""


@dataclass(frozen=True)
class Prepared:
    """A validated instance with its member count and what a member asks for in each cluster, before placement."""

    spec: SpecInput
    meta: MetadataView
    inst: evaluate.Instance
    total: int
    problems: list[Diagnostic]
    requests: dict[str, dict[str, Fraction]] = field(default_factory=dict)
    """Per cluster name, a member's request per resource as Karmada counts it (see capacity.member_requests)."""


def prepare(spec: SpecInput, meta: MetadataView, snapshot: Snapshot, diagnostics: Diagnostics) -> Prepared | None:
    """Validate one instance and count its members; problems go to ``diagnostics`` (None when it is invalid)."""
    pack = spec.pack
    data = spec.model.model_dump(mode="json", exclude_none=True, by_alias=True)
    inst = evaluate.instance(pack, spec.doc, data["spec"], meta, snapshot.overlay_message(pack),
                             snapshot.settings_message(pack))
    problems = evaluate.validate(pack, inst)
    containers = snapshot.containers(pack, inst)
    problems += _request_problems(pack, inst, spec.doc, containers)
    diagnostics.extend(problems)
    if any(p.severity == "error" for p in problems):
        return None
    counted: dict[int, dict[str, Fraction]] = {}  # by identity: a pack that doesn't read cluster shares one list
    for both in containers.values():
        if id(both) not in counted:
            counted[id(both)] = member_requests(*both)
    return Prepared(spec, meta, inst, evaluate.member_count(pack, inst), problems,
                    {name: counted[id(both)] for name, both in containers.items()})


def _request_problems(pack: Pack, inst: evaluate.Instance, doc: SourceDoc,
                      containers: Mapping[str, Containers]) -> list[Diagnostic]:
    """The amounts of the pack's ``memberRequests`` and ``memberInitRequests`` that Kubernetes would refuse,
    before any is used to count what fits: where the input writes them (a CRD-defined kind's spec passes them on
    unchecked), else at the rule, naming the clusters when they differ by cluster. Each problem once."""
    out: dict[str, Diagnostic] = {}
    seen: set[int] = set()
    for cluster, both in sorted(containers.items()):
        if id(both) in seen:  # the same lists for every cluster when the pack doesn't read cluster
            continue
        seen.add(id(both))
        where = f" on cluster {cluster}" if pack.requests_by_cluster else ""
        for rule, program, listed in (("memberRequests", pack.member_requests, both[0]),
                                      ("memberInitRequests", pack.member_init_requests, both[1])):
            for index, container in enumerate(listed):
                for (kind, name), problem in resources.container_problems(container):
                    text = container[kind][name]  # the rules give strings; the input may have written an integer
                    traced = origin(doc, text, name)
                    if traced is None and text.lstrip("-").isdigit():
                        traced = origin(doc, int(text), name)
                    if traced is not None:
                        found = Diagnostic(problem, doc.location(traced), format_path(traced))
                    else:
                        assert program is not None
                        found = Diagnostic(f"{problem} (in {kind}.{name} of container {index} of the {rule} of "
                                           f"pack {pack.name}, for {inst.subject}{where})", program.expr.location())
                    out.setdefault(found.render(), found)
    return list(out.values())


def plan(prepared: Prepared, snapshot: Snapshot, previous: InstanceState | None,
         diagnostics: Diagnostics, observation: Observation | None = None) -> Planned | None:
    """Place the members of a prepared instance; problems go to ``diagnostics`` (None when it can't).

    ``observation`` (the instance's observed MongoReplicaSet, judged; None for a pack that renders none) decides
    when members a scale-down removes may go: until it shows them out of the configuration they stay, leaving
    (``fedrender.day2.scaledown``)."""
    spec, meta, inst, total, problems = (prepared.spec, prepared.meta, prepared.inst, prepared.total,
                                         prepared.problems)
    pack = spec.pack
    before = Counter(m.cluster for m in previous.members if not m.arbiterOnly) if previous else Counter()
    views = snapshot.limited(pack, inst, snapshot.views(prepared.requests, before))
    spreads = [_spread(s) for s in evaluate.spread_constraints(pack, inst)]
    label_levels = [s.level for s in spreads if s.level.startswith("label:")]
    candidates = []
    for name, view in views.items():
        verdict = evaluate.verdict(pack, inst, snapshot.message(pack, view), name)
        groups = {f: str(getattr(view, f)) for f in GROUP_FIELDS}
        groups.update({level: view.labels.get(level[6:], "") for level in label_levels})
        candidates.append(Candidate(name, verdict.eligible, verdict.reason, view.fits, verdict.score,
                                    verdict.weight, verdict.keeps, groups))
    wants_arbiter = evaluate.wants_arbiter(pack, inst, total)

    def caps(usable: Mapping[str, int]) -> dict[str, int]:
        """The pack's caps for the groups that may hold members under the groups chosen (the arbiter votes too)."""
        return evaluate.group_caps(pack, inst, total + wants_arbiter, dict(usable))
    old = previous.members if previous else []
    previous_slots = [Slot(m.id, m.cluster, m.ordinal) for m in old if not m.arbiterOnly and not m.leaving]
    # A scale-up while members leave takes them back first (their pods never went), lowest ordinals first so
    # that the ordinals that stay remain contiguous; the others stay leaving. Their _ids go to no new member.
    still_leaving = sorted(scaledown.leaving_before(old), key=lambda s: (s.ordinal, s.id))
    previous_slots += still_leaving[:max(0, total - len(previous_slots))]
    leaving_ids = [s.id for s in still_leaving]
    old_arbiter = next((Slot(m.id, m.cluster, m.ordinal) for m in old if m.arbiterOnly), None)
    keeps_arbiter = old_arbiter is not None and wants_arbiter and any(
        c.name == old_arbiter.cluster and c.can_keep for c in candidates)
    arbiter: Slot | None = None
    try:
        placement = place(total, candidates, caps, previous=previous_slots,
                          previous_init=previous.initCluster if previous else "", spreads=spreads,
                          reserved=[*leaving_ids, *([old_arbiter.id] if old_arbiter else [])],
                          occupied={old_arbiter.cluster: 1} if old_arbiter and keeps_arbiter else {})
        if wants_arbiter:
            # A new arbiter takes no _id of the previous render: members this render drops may stay, leaving.
            arbiter, arbiter_move = place_arbiter(candidates, placement, old_arbiter, [m.id for m in old])
            if arbiter_move is not None:
                placement.moves.append(arbiter_move)
    except Infeasible as exc:
        path = pack.member_count_path
        details = {name: f"{why}: {views[name].capacity}" if name in views and why.startswith("fits ")
                   and views[name].capacity else why for name, why in exc.details.items()}
        where, path = spread_location(spec.doc, spreads, exc.spread, path) if exc.spread else (
            spec.doc.location(tuple(p for p in path.split(".") if p)), path)
        diagnostics.add(Diagnostic(f"{inst.subject}: {Infeasible(exc.message, details)}", where, path))
        return None
    notes = above_members(spec.doc, inst.subject, spreads, total, pack.member_count_path)
    diagnostics.extend(notes)
    rows = {c.name: ClusterRow("yes" if c.eligible else "keep" if c.can_keep and before[c.name] else "no",
                               c.reason, c.fits, c.score, before[c.name], placement.counts.get(c.name, 0),
                               views[c.name].estimate, views[c.name].capacity)
            for c in candidates}
    for name in sorted(set(before) - set(views)):
        rows[name] = ClusterRow("no", "is gone from the snapshot", 0, 0, before[name], 0)
    warnings = [d.message for d in [*problems, *notes] if d.severity == "warning"]
    warnings += [f"members placed earlier exceed a cap: {group} {text}" for group, text in placement.over_cap.items()]
    voting = _voting(placement, arbiter, views, previous)  # among the members kept: a leaving one never votes
    settled = scaledown.settle(placement, old, views, observation, arbiter)
    placement, arbiter = settled.placement, settled.arbiter
    for name, row in rows.items():
        row.after = placement.counts.get(name, 0)
    kept_before = sum(1 for m in old if not m.arbiterOnly and not m.leaving)
    voted_before = sum(1 for m in old if m.votes > 0)
    thin = scaledown.availability(voted_before, len(voting.voters), total) if total < kept_before else ""
    if thin:
        warnings.append(f"{inst.subject}: {thin}")
        diagnostics.add(Diagnostic(f"{inst.subject}: {thin}", spec.doc.location(
            tuple(p for p in pack.member_count_path.split(".") if p)), pack.member_count_path, severity="warning"))
    result = InstanceResult(meta.namespace, meta.name, pack.name, placement.counts, [], placement.excluded, rows,
                            placement.moves, placement.init_cluster, arbiter, warnings=warnings,
                            voting=voting, waiting=settled.waiting, allowed=settled.allowed, leaving=settled.leaving,
                            settings=pack_settings.values(pack.name, pack.settings, snapshot.overlay))
    return Planned(spec, inst, placement, views, result, snapshot, previous, spreads, prepared.requests)


def majority_warnings(item: Planned, members: list[MemberView]) -> list[Diagnostic]:
    """A warning for each region, zone or provider (each level the pack caps) holding a majority of the votes,
    saying why it could not be avoided and what would avoid it; located at spec.spreadConstraints when they
    are the cause, else at the member count."""
    votes: Counter[str] = Counter()
    held: Counter[str] = Counter()
    for m in members:
        if m.leaving:  # a leaving arbiter still votes, but only until its one reconfig: not the set's future
            continue
        votes[m.cluster] += max(m.votes, 0)
        held[m.cluster] += 1
    groups = {name: {f: str(getattr(view, f)) for f in GROUP_FIELDS} for name, view in item.views.items()}
    placement, pack = item.placement, item.spec.pack
    out = []
    for found in voting_majorities(votes, groups, list(placement.caps), placement.usable, placement.available,
                                   item.spreads, placement.over_cap, held):
        path = "spec.spreadConstraints.spreadConstraints" if found.constrained else pack.member_count_path
        where = item.spec.doc.location(tuple(p for p in path.split(".") if p))
        out.append(Diagnostic(f"{item.inst.subject}: {found.message()} [{pack.name}/voting-majority-in-one-"
                              f"{found.level}]", where, path, severity="warning"))
    return out


def _voting(placement: Placement, arbiter: Slot | None, views: Mapping[str, ClusterView],
            previous: InstanceState | None) -> Voting:
    """The voters among the placed members (and the arbiter), sticky to the votes of the previous render, with no
    voting majority in a cluster, then in each group of the levels the pack caps, where avoidable."""
    def seat(slot: Slot, arbiter_only: bool = False) -> Seat:
        view = views[slot.cluster]
        return Seat(slot.id, slot.cluster, view.region, slot.ordinal, arbiter_only, view.zone, view.provider)
    seats = [seat(s) for s in placement.slots] + ([seat(Slot(arbiter.id, arbiter.cluster, 0), True)] if arbiter else [])
    before = {m.id: m.votes > 0 for m in previous.members} if previous else {}
    return choose_voters(seats, before, placement.init_cluster, [f for f in GROUP_FIELDS if f in placement.caps])


def _spread(raw: dict[str, Any]) -> Spread:
    label = str(raw.get("spreadByLabel") or "")
    level = f"label:{label}" if label else str(raw.get("spreadByField") or CLUSTER)
    max_groups = int(raw.get("maxGroups") or 0)
    return Spread(level, int(raw.get("minGroups") or 1), max_groups or None)
