"""Render every instance: validate, schedule, compose, override, emit. Returns files in memory."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedrender import __version__
from fedrender.cel.engine import EvalError
from fedrender.composer import karmada
from fedrender.composer.nodeports import DEFAULT_RANGE, PortsExhausted, allocate
from fedrender.emitter import dump, filename
from fedrender.models.cluster import Cluster
from fedrender.models.diagnostics import Diagnostic, Diagnostics, InputError
from fedrender.models.views import ClusterView, MemberView, MetadataView, OrdinalView, TaintView
from fedrender.pipeline.load import SpecInput, digest, load_clusters, load_overlay, load_packs, load_specs, yaml_files
from fedrender.rules import evaluate
from fedrender.rules.pack import Pack
from fedrender.scheduler.capacity import estimate_free, free_resources, member_requests
from fedrender.scheduler.placement import Candidate, Infeasible, Placement, place

STATE_FILE = ".fedrender/state.json"
STATE_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Inputs:
    specs: Sequence[Path]
    clusters: Path
    rules: Path | None = None
    overlays: Sequence[Path] = ()


@dataclass
class InstanceResult:
    namespace: str
    name: str
    pack: str
    placement: dict[str, int]
    members: list[MemberView]
    excluded: dict[str, str]
    fits: dict[str, int]
    scores: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)

    def explain(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "placement": dict(sorted(self.placement.items())),
            "members": [{"id": m.id, "cluster": m.cluster, "ordinal": m.ordinal, "host": m.host,
                         "votes": m.votes, "priority": m.priority} for m in self.members],
            "excluded": dict(sorted(self.excluded.items())),
            "warnings": list(self.warnings),
        }


@dataclass
class RenderResult:
    instances: list[InstanceResult]
    files: dict[str, bytes]
    warnings: list[Diagnostic]


@dataclass
class _Snapshot:
    """The clusters, with what every instance reuses: free resources, and views per distinct member request."""

    clusters: list[Cluster]
    overlay: dict[str, Any]
    free: dict[str, Any] = field(default_factory=dict)
    _views: dict[tuple[str, tuple[tuple[str, Any], ...]], ClusterView] = field(default_factory=dict)
    _messages: dict[tuple[str, int], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.free = {c.metadata.name: free_resources(c.status.resourceSummary if c.status else None)
                     for c in self.clusters}

    def views(self, requests: dict[str, Any]) -> dict[str, ClusterView]:
        key = tuple(sorted(requests.items()))
        out = {}
        for cluster in self.clusters:
            name = cluster.metadata.name
            if (name, key) not in self._views:
                self._views[(name, key)] = cluster_view(cluster, self.overlay, self.free[name], requests)
            out[name] = self._views[(name, key)]
        return out

    def message(self, pack: Pack, view: ClusterView) -> Any:
        """The CEL value of ``view`` (cached: views are immutable and reused across instances)."""
        key = (pack.name, id(view))
        if key not in self._messages:
            self._messages[key] = evaluate.cluster_message(pack, view)
        return self._messages[key]


@dataclass
class _Planned:
    spec: SpecInput
    inst: evaluate.Instance
    placement: Placement
    views: dict[str, ClusterView]
    result: InstanceResult
    snapshot: _Snapshot


def render(inputs: Inputs, progress: Callable[[int, int], None] | None = None) -> RenderResult:
    """Everything render would write, or InputError listing every problem. Writes nothing.

    ``progress(done, total)`` is called after each instance is scheduled.
    """
    packs = load_packs(inputs.rules)
    diagnostics = Diagnostics()
    specs = load_specs(inputs.specs, packs, diagnostics)
    try:
        clusters = load_clusters(inputs.clusters)
        overlay = load_overlay(inputs.overlays)
    except InputError as exc:  # without clusters nothing can be scheduled: report what we have
        diagnostics.extend(exc.diagnostics)
        diagnostics.raise_if_errors()
    snapshot = _Snapshot(clusters, overlay)
    planned: list[_Planned] = []
    seen: dict[tuple[str, str], SpecInput] = {}
    for done, spec in enumerate(specs, start=1):
        if progress is not None:
            progress(done, len(specs))
        meta = _metadata(spec)
        key = (meta.namespace, meta.name)
        if key in seen:
            diagnostics.add(Diagnostic(f"{meta.namespace}/{meta.name} is also defined at "
                                       f"{seen[key].doc.location()}", spec.doc.location(("metadata", "name")),
                                       "metadata.name"))
            continue
        seen[key] = spec
        try:
            item = _plan(spec, meta, snapshot, diagnostics)
        except EvalError as exc:
            diagnostics.add(Diagnostic(str(exc)))
            continue
        if item is not None:
            planned.append(item)
    diagnostics.raise_if_errors()
    files = _compose(sorted(planned, key=lambda p: (p.result.namespace, p.result.name)), overlay, diagnostics)
    diagnostics.raise_if_errors()
    results = [p.result for p in sorted(planned, key=lambda p: (p.result.namespace, p.result.name))]
    files[STATE_FILE] = _state(inputs, packs, results, sorted(files))
    return RenderResult(results, dict(sorted(files.items())), diagnostics.warnings)


def _metadata(spec: SpecInput) -> MetadataView:
    meta = spec.model.model_dump()["metadata"]
    return MetadataView(name=meta["name"], namespace=meta.get("namespace") or "default",
                        labels=meta.get("labels") or {}, annotations=meta.get("annotations") or {})


def cluster_view(cluster: Cluster, overlay: dict[str, Any], free: Any, requests: dict[str, Any]) -> ClusterView:
    ready = cluster.ready_condition()
    fit = estimate_free(free, requests)
    overlay_cluster = (overlay.get("clusters") or {}).get(cluster.metadata.name) or {}
    reason = ""
    if ready is None:
        reason = "no Ready condition"
    elif ready.status != "True":
        reason = ": ".join(x for x in (ready.reason, ready.message) if x) or f"Ready={ready.status}"
    return ClusterView(
        name=cluster.metadata.name,
        labels=cluster.metadata.labels,
        provider=cluster.spec.provider or "",
        region=cluster.spec.region or "",
        zone=cluster.spec.zone or "",
        zones=cluster.spec.zones,
        ready=ready is not None and ready.status == "True",
        readyReason=reason,
        taints=[TaintView(key=t.key, value=t.value or "", effect=t.effect) for t in cluster.spec.taints],
        vip=str(overlay_cluster.get("vip") or cluster.metadata.labels.get("vip", "")),
        allocatable=dict(cluster.status.resourceSummary.allocatable)
        if cluster.status and cluster.status.resourceSummary else {},
        fits=fit.members,
        capacity=fit.explanation,
    )


def _plan(spec: SpecInput, meta: MetadataView, snapshot: _Snapshot, diagnostics: Diagnostics) -> _Planned | None:
    pack = spec.pack
    data = spec.model.model_dump(mode="json", exclude_none=True)
    inst = evaluate.instance(pack, spec.doc, data["spec"], meta, snapshot.overlay)
    problems = evaluate.validate(pack, inst)
    diagnostics.extend(problems)
    if any(p.severity == "error" for p in problems):
        return None
    total = int(data["spec"].get("replicaset", 0))
    requests = member_requests(evaluate.member_requests(pack, inst))
    views = snapshot.views(requests)
    candidates = []
    for name, view in views.items():
        verdict = evaluate.verdict(pack, inst, snapshot.message(pack, view), name)
        candidates.append(Candidate(name, verdict.eligible, verdict.reason, view.fits, verdict.score))
    eligible = sum(c.eligible for c in candidates)
    cap = evaluate.max_members(pack, inst, total, eligible)
    try:
        placement = place(total, candidates, cap)
    except Infeasible as exc:
        diagnostics.add(Diagnostic(f"{inst.subject}: {exc}", spec.doc.location(("spec", "replicaset")),
                                   "spec.replicaset"))
        return None
    result = InstanceResult(meta.namespace, meta.name, pack.name, placement.counts, [], placement.excluded,
                            {c.name: c.fits for c in candidates}, {c.name: c.score for c in candidates},
                            [d.message for d in problems if d.severity == "warning"])
    return _Planned(spec, inst, placement, views, result, snapshot)


def _compose(planned: list[_Planned], overlay: dict[str, Any], diagnostics: Diagnostics) -> dict[str, bytes]:
    port_range = _port_range(overlay)
    keys = [(p.result.namespace, p.result.name, o) for p in planned for o in range(max(p.placement.counts.values()))]
    try:
        ports = allocate(keys, port_range)
    except PortsExhausted as exc:
        diagnostics.add(Diagnostic(str(exc)))
        return {}
    references: dict[tuple[str, str, str], set[str]] = {}
    files: dict[str, bytes] = {}
    for item in planned:
        try:
            objects, refs = _instance_objects(item, ports, diagnostics)
        except EvalError as exc:
            diagnostics.add(Diagnostic(str(exc)))
            continue
        for ref in refs:
            references.setdefault((item.result.namespace, *ref), set()).update(item.placement.counts)
        item.result.objects = objects
        base = f"instances/{item.result.namespace}/{item.result.name}"
        _add_files(files, base, objects, diagnostics)
    for (namespace, kind, name), clusters in sorted(references.items()):
        policy = karmada.duplicated_policy(
            f"{kind.lower()}-{name}", namespace, {}, [{"apiVersion": "v1", "kind": kind, "name": name,
                                                       "namespace": namespace}], sorted(clusters), [])
        _add_files(files, f"instances/{namespace}/_references", [policy], diagnostics)
    return files


def _add_files(files: dict[str, bytes], base: str, objects: list[dict[str, Any]], diagnostics: Diagnostics) -> None:
    for obj in objects:
        path = f"{base}/{filename(obj)}"
        if path in files:
            diagnostics.add(Diagnostic(f"two objects render to {path}; rename one of the instances"))
        files[path] = dump(obj)


def _port_range(overlay: dict[str, Any]) -> tuple[int, int]:
    ports = overlay.get("nodePorts") or {}
    return int(ports.get("min", DEFAULT_RANGE[0])), int(ports.get("max", DEFAULT_RANGE[1]))


def _instance_objects(item: _Planned, ports: dict[tuple[str, str, int], int],
                      diagnostics: Diagnostics) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    pack, inst, placement, result = item.spec.pack, item.inst, item.placement, item.result
    ns, name = result.namespace, result.name
    slots = [(s.id, s.cluster, s.ordinal, f"{item.views[s.cluster].vip}:{ports[(ns, name, s.ordinal)]}")
             for s in placement.slots]
    members = evaluate.roles(pack, inst, slots, placement.counts, placement.init_cluster)
    result.members = members
    data = evaluate.placed_data(pack, inst, members, placement.counts, len(placement.eligible), placement.init_cluster)
    problems = evaluate.checks(pack, inst, data)
    diagnostics.extend(problems)
    result.warnings.extend(d.message for d in problems if d.severity == "warning")
    ordinals = [OrdinalView(index=o, nodePort=ports[(ns, name, o)],
                            clusters=sorted(c for c, n in placement.counts.items() if n > o))
                for o in range(max(placement.counts.values()))]
    labels = {"app.kubernetes.io/instance": name}
    tolerations = evaluate.cluster_tolerations(pack, inst)
    rendered = evaluate.templates(pack, inst, data, ordinals)
    objects: list[dict[str, Any]] = []
    divided, shared = [], []
    by_ordinal: dict[int, list[dict[str, Any]]] = {}
    for spec, obj, ordinal in rendered:
        karmada.annotate_template(obj, spec.stateful)
        objects.append(obj)
        if spec.propagation == "divided":
            divided.append(obj)
        elif spec.propagation == "all" or ordinal is None:
            shared.append(obj)
        else:
            by_ordinal.setdefault(ordinal, []).append(obj)
    refs = evaluate.references(pack, inst)
    if divided:
        objects.append(karmada.divided_policy(name, ns, labels, divided, placement.counts, tolerations))
    if shared:
        objects.append(karmada.duplicated_policy(f"{name}-shared", ns, labels, [karmada.selector(o) for o in shared],
                                                 list(placement.counts), tolerations))
    for index, objs in sorted(by_ordinal.items()):
        objects.append(karmada.duplicated_policy(f"{name}-member-{index}", ns, labels,
                                                 [karmada.selector(o) for o in objs], ordinals[index].clusters,
                                                 tolerations))
    objects.extend(_override_policies(item, data, objects, labels))
    return objects, refs


def _override_policies(item: _Planned, data: dict[str, Any], objects: list[dict[str, Any]],
                       labels: dict[str, str]) -> list[dict[str, Any]]:
    pack, inst, result = item.spec.pack, item.inst, item.result
    per_rule: dict[str, tuple[evaluate.Override, list[dict[str, Any]]]] = {}
    for cluster in sorted(item.placement.counts):
        message = item.snapshot.message(pack, item.views[cluster])
        for override in evaluate.overrides(pack, inst, data, message, cluster):
            rule = karmada.override_rule(cluster, override.labels, override.annotations, override.plaintext)
            per_rule.setdefault(override.rule, (override, []))[1].append(rule)
    policies = []
    for rule_name in [o.name for o in pack.overrides if o.name in per_rule]:
        override, rules = per_rule[rule_name]
        targets = [o for o in objects if o["kind"] in override.kinds]
        if targets:
            policies.append(karmada.override_policy(f"{result.name}-{rule_name}", result.namespace, labels,
                                                    targets, rules))
    return policies


def _state(inputs: Inputs, packs: list[Pack], results: list[InstanceResult], files: list[str]) -> bytes:
    state = {
        "schemaVersion": STATE_SCHEMA_VERSION,
        "tool": {"name": "fedrender", "version": __version__},
        "rulePacks": {p.name: {"version": p.version, "digest": p.digest} for p in packs},
        "inputs": digest([*yaml_files(inputs.specs), inputs.clusters, *yaml_files(inputs.overlays)]),
        "instances": {f"{r.namespace}/{r.name}": {
            "pack": r.pack,
            "placement": dict(sorted(r.placement.items())),
            "members": [m.model_dump() for m in r.members],
        } for r in results},
        "files": files,
    }
    return (json.dumps(state, indent=2, sort_keys=True) + "\n").encode()

