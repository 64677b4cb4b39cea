"""Compose stage: members with roles and hosts, templates, Karmada policies, NodePorts and the state file."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from fedrender import __version__
from fedrender.cel.engine import EvalError
from fedrender.cel.template import Template
from fedrender.composer import karmada, templatehash
from fedrender.composer.apply import OverrideFailed, apply_overriders, image_damage
from fedrender.composer.nodeports import PortKey, PortsExhausted, allocate
from fedrender.emitter import dump, filename
from fedrender.models import names as k8s
from fedrender.models import resources
from fedrender.models.diagnostics import Diagnostic, Diagnostics, InputError, Location
from fedrender.models.overlay import Overlay
from fedrender.models.source import PathKey, SourceDoc, format_path, origin
from fedrender.models.state import SCHEMA_VERSION, InstanceState, MemberState, PackState, State, Tool
from fedrender.models.views import MemberView, OrdinalView
from fedrender.pipeline import fidelity, workloads
from fedrender.pipeline.schedule import InstanceResult, Planned, Prepared, majority_warnings
from fedrender.rules import evaluate
from fedrender.rules.pack import Pack
from fedrender.scheduler.placement import CLUSTER
from fedrender.scheduler.voters import VoteChange

NAMED_INSTANCES = 5
APPLICATION_NAME = "fedrender.{namespace}.{name}"
"""The Argo CD Application name gitops/applicationset.yaml gives instances/<namespace>/<name>: it must be a
DNS-1123 subdomain (at most 253 characters), which bounds how long a namespace and name together may be."""
"""How many instances left without NodePorts are named one by one."""


@dataclass(frozen=True)
class Origin:
    """What rendered an object: the template document (None for the Karmada policies fedrender builds) and the
    input it was rendered for (None for platform objects), to point at the cause of a problem with it."""

    subject: str
    template: Template | None = None
    spec: SourceDoc | None = None

    def locate(self, path: PathKey) -> tuple[Location | None, str]:
        """The location to report a problem with field ``path`` of the object at, and the field path to name."""
        if self.template is not None:
            return self.template.field_location(path), format_path(path)
        if self.spec is not None:
            return self.spec.location(("metadata", "name")), "metadata.name"
        return None, ""


def compose(planned: list[Planned], overlay: Overlay, diagnostics: Diagnostics) -> dict[str, bytes]:
    """Every manifest of every instance, by output path; NodePorts stay as the previous state had them."""
    try:
        ports = _ports(planned, overlay)
    except PortsExhausted as exc:
        docs = {(p.result.namespace, p.result.name): p.spec.doc for p in planned}
        unserved = Counter(key[:2] for key in exc.unserved)
        diagnostics.extend(_exhausted(overlay, exc.need, [(f"{ns}/{name}", docs[ns, name], count)
                                                          for (ns, name), count in unserved.items()]))
        return {}
    references: dict[tuple[str, str, str], tuple[set[str], SourceDoc]] = {}
    reported: set[tuple[str, str, int]] = set()  # each broken override entry once, not once per instance
    files: dict[str, bytes] = {}
    owners: dict[tuple[str, str, str, str], str] = {}
    for item in planned:
        result = item.result
        result.node_ports = {key[2]: port for key, port in ports.items() if key[:2] == (result.namespace, result.name)}
        try:
            objects, refs, templates = _instance_objects(item, diagnostics, reported)
        except EvalError as exc:
            diagnostics.add(evaluate.failure(exc, item.spec.doc))
            continue
        refs = _valid_references(item, refs, diagnostics)
        runs_members = set(item.placement.counts) | ({result.arbiter.cluster} if result.arbiter else set())
        for ref in refs:  # every cluster that runs a member of the instance, the arbiter's included
            references.setdefault((result.namespace, *ref), (set(), item.spec.doc))[0].update(runs_members)
        application = APPLICATION_NAME.format(namespace=result.namespace, name=result.name)
        for problem in k8s.dns1123_subdomain(application, "Argo CD Application name"):
            diagnostics.add(Diagnostic(f"{problem} (gitops/applicationset.yaml names the Application of "
                                       f"instances/<namespace>/<name> {APPLICATION_NAME}); shorten the name",
                                       item.spec.doc.location(("metadata", "name")), "metadata.name"))
        result.objects = objects
        for obj in objects:
            key = (obj["apiVersion"], obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"])
            owner = owners.setdefault(key, f"{result.namespace}/{result.name}")
            if owner != f"{result.namespace}/{result.name}":
                diagnostics.add(Diagnostic(f"{owner} and {result.namespace}/{result.name} both render {key[1]} "
                                           f"{key[2]}/{key[3]}; rename one of them", item.spec.doc.location(
                                               ("metadata", "name")), "metadata.name"))
        subject = f"{result.namespace}/{result.name}"
        _add_files(files, ("instances", result.namespace, result.name), objects, diagnostics, overlay.labels,
                   {id(o): Origin(subject, templates.get(id(o)), item.spec.doc) for o in objects})
    _platform(planned, overlay, files, diagnostics)
    for (namespace, kind, name), (clusters, doc) in sorted(references.items()):
        policy = karmada.duplicated_policy(
            f"{kind.lower()}-{name}", namespace, {}, [{"apiVersion": "v1", "kind": kind, "name": name,
                                                       "namespace": namespace}], sorted(clusters), [])
        _add_files(files, ("references", namespace), [policy], diagnostics, overlay.labels,
                   {id(policy): Origin(f"{kind} {namespace}/{name}", None, doc)})
    return files


def _platform(planned: list[Planned], overlay: Overlay, files: dict[str, bytes], diagnostics: Diagnostics) -> None:
    """Each pack's platform objects, once, into platform/<pack>/, for the clusters its instances use."""
    by_pack: dict[str, tuple[Pack, set[str]]] = {}
    for item in planned:
        entry = by_pack.setdefault(item.spec.pack.name, (item.spec.pack, set()))
        entry[1].update(item.placement.counts)
        if item.result.arbiter is not None:
            entry[1].add(item.result.arbiter.cluster)
    for name, (pack, clusters) in sorted(by_pack.items()):
        if not pack.platform:
            continue
        overlay_message = planned[0].snapshot.overlay_message(pack)
        settings = planned[0].snapshot.settings_message(pack)
        try:
            diagnostics.extend(evaluate.platform_checks(pack, sorted(clusters), overlay_message, settings,
                                                        __version__))
            rendered = evaluate.platform(pack, sorted(clusters), overlay_message, settings, __version__)
        except EvalError as exc:
            diagnostics.add(evaluate.failure(exc))
            continue
        objects = [obj for _, _, obj in rendered]
        origins = {id(obj): Origin(f"the platform of pack {name}", template) for _, template, obj in rendered}
        members = [obj for target, _, obj in rendered if target == "members"]
        if members:
            objects.append(karmada.cluster_policy(f"fedrender-{name}-platform", members, sorted(clusters)))
        _add_files(files, ("platform", name), objects, diagnostics, overlay.labels, origins)


def _ordinals(item: Planned) -> int:
    return max(item.placement.counts.values(), default=0)


def _services(item: Planned) -> list[str]:
    """The ``what`` of every member Service of an instance that needs a NodePort (see nodeports.PortKey)."""
    extra = item.spec.pack.member_ports[1:]
    services = [what for o in range(_ordinals(item)) for what in (str(o), *(f"{o}/{p}" for p in extra))]
    return services + (["arbiter"] if item.result.arbiter else [])


def _ports(planned: list[Planned], overlay: Overlay) -> dict[PortKey, int]:
    port_range = overlay.nodePorts.min, overlay.nodePorts.max
    kept: dict[PortKey, int] = {}
    wanted: list[PortKey] = []
    for item in planned:
        ns, name = item.result.namespace, item.result.name
        previous = item.previous.nodePorts if item.previous else {}
        for what in _services(item):
            port = previous.get(what)
            if port is not None and port_range[0] <= port <= port_range[1]:
                kept[(ns, name, what)] = port
            else:
                wanted.append((ns, name, what))
    return {**kept, **allocate(wanted, port_range, taken=kept.values())}


def port_shortage(prepared: Sequence[Prepared], clusters: int, overlay: Overlay) -> list[Diagnostic]:
    """Diagnostics when the instances need more NodePorts than the overlay's range holds whatever the
    placement, so that it is said before scheduling; empty when they may fit (compose then checks exactly).

    An instance of ``m`` members over at most ``clusters`` clusters has at least ceil(m / clusters) pod
    ordinals, each with one Service per port in its pack's ``memberPorts``."""
    if clusters < 1:
        return []
    size = overlay.nodePorts.max - overlay.nodePorts.min + 1
    demand = sorted((p.meta.namespace, p.meta.name, len(p.spec.pack.member_ports) * -(-p.total // clusters),
                     p.spec.doc) for p in prepared if p.total > 0)
    need = sum(count for _, _, count, _ in demand)
    if need <= size:
        return []
    unserved, asked = [], 0
    for ns, name, count, doc in demand:
        asked += count
        if asked > size:
            unserved.append((f"{ns}/{name}", doc, min(count, asked - size)))
    return _exhausted(overlay, need, unserved, at_least=True)


def _exhausted(overlay: Overlay, need: int, unserved: Sequence[tuple[str, SourceDoc, int]],
               at_least: bool = False) -> list[Diagnostic]:
    """The range at its overlay file:line:col (or named as the default), then each instance left without
    NodePorts (in namespace/name order, the order they are allocated in) at its spec's file:line:col."""
    low, high = overlay.nodePorts.min, overlay.nodePorts.max
    size, amount = high - low + 1, f"at least {need}" if at_least else str(need)
    where = overlay.source("nodePorts")
    out = []
    if where is not None:
        names = f"the nodePorts range {low}-{high} (set at {where})"
        out.append(Diagnostic(f"the range {low}-{high} has {_ports_text(size)} but the member Services of the "
                              f"instances need {amount}: widen it, or render the instances into several outputs",
                              where, "nodePorts"))
    else:
        names = (f"the default nodePorts range {low}-{high} (Kubernetes' default service-node-port-range; set "
                 f"nodePorts.min and nodePorts.max in a file of an --overlay directory to widen it)")
    for subject, doc, count in unserved[:NAMED_INSTANCES]:
        out.append(Diagnostic(f"{subject}: no NodePort is left for {count} of its member Services: {names} has "
                              f"{_ports_text(size)} and the instances need {amount}",
                              doc.location(("metadata", "name")), "metadata.name"))
    if len(unserved) > NAMED_INSTANCES:
        subject, doc, _ = unserved[NAMED_INSTANCES]
        out.append(Diagnostic(f"{subject} and {len(unserved) - NAMED_INSTANCES - 1} more instances after it get no "
                              f"NodePort either", doc.location(("metadata", "name")), "metadata.name"))
    return out


def _ports_text(count: int) -> str:
    return f"{count} NodePort" if count == 1 else f"{count} NodePorts"


def _valid_references(item: Planned, refs: list[tuple[str, str]], diagnostics: Diagnostics) -> list[tuple[str, str]]:
    """The (kind, name) references whose names Kubernetes accepts; the others are reported at the input."""
    out = []
    for kind, name in refs:
        problems = k8s.dns1123_subdomain(name, f"{kind} name")
        for problem in problems:
            diagnostics.add(Diagnostic(f"{item.inst.subject} references a {kind}: {problem} (from the references "
                                       f"of pack {item.spec.pack.name})", item.spec.doc.location()))
        if not problems:
            out.append((kind, name))
    return out


def _add_files(files: dict[str, bytes], base: tuple[str, ...], objects: list[dict[str, Any]],
               diagnostics: Diagnostics, labels: dict[str, str], origins: dict[int, Origin]) -> None:
    """One file per object, at ``base/<kind>-<name>.yaml``; the overlay's extra ``labels`` are added (an object's
    own labels win). An object whose kind, name, namespace or labels Kubernetes would refuse, or a path part that
    is not a plain name, is reported (at the template or input it came from) and gets no file."""
    for problem in (p for part in base for p in k8s.path_segment(part, "path component")):
        origin = next((origins[id(o)] for o in objects if id(o) in origins), None)
        where = origin.locate(("metadata", "namespace"))[0] if origin else None
        diagnostics.add(Diagnostic(f"refusing to write under {'/'.join(base)!r}: {problem}", where))
        return
    for obj in objects:
        if labels:
            meta = obj.setdefault("metadata", {})
            meta["labels"] = {**labels, **meta.get("labels", {})}
        if _refused(obj, origins.get(id(obj)), diagnostics):
            continue
        path = "/".join((*base, filename(obj)))
        if path in files:
            origin = origins.get(id(obj))
            where = origin.locate(("metadata", "name"))[0] if origin else None
            diagnostics.add(Diagnostic(f"two objects render to {path}; rename one of them", where))
        files[path] = dump(obj)


def _refused(obj: dict[str, Any], source: Origin | None, diagnostics: Diagnostics) -> bool:
    """Report every field of ``obj`` the API server would refuse (names, labels, container resources). A refused
    amount that the input holds verbatim (a CRD-defined kind's spec passed through a template) is reported where
    the input writes it; anything else at the template line that renders it."""
    named = k8s.object_problems(obj)
    amounts = resources.object_problems(obj)
    meta: dict[str, Any] = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
    what = f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}".replace(" /", " ")
    for index, (path, problem) in enumerate(named + amounts):
        location, field = source.locate(path) if source else (None, "")
        spec = source.spec if source else None
        traced = _input_path(spec, obj, path) if spec is not None and index >= len(named) else None
        if spec is not None and traced is not None:
            diagnostics.add(Diagnostic(f"{problem} (it becomes {format_path(path)} of {what}, rendered by "
                                       f"{location})", spec.location(traced), format_path(traced)))
            continue
        input_at = spec.location() if spec is not None and source is not None and source.template else None
        diagnostics.add(Diagnostic(f"{what} rendered for {source.subject if source else 'the output'}: {problem}"
                                   + (f" (input at {input_at})" if input_at else ""), location, field))
    return bool(named or amounts)


def _input_path(spec: SourceDoc, obj: Any, path: PathKey) -> PathKey | None:
    """The path of the input's spec that the scalar at ``path`` of ``obj`` was copied from (see
    :func:`fedrender.models.source.origin`), or None."""
    value = obj
    for part in path:  # a problem may name a field the object lacks (a claim template without its kind)
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not path:
        return None
    return origin(spec, value, path[-1])


def _instance_objects(item: Planned, diagnostics: Diagnostics, reported: set[tuple[str, str, int]],
                      ) -> tuple[list[dict[str, Any]], list[tuple[str, str]], dict[int, Template]]:
    """The instance's objects, the (kind, name) it references, and the template of each object (by ``id``)."""
    pack, inst, placement, result = item.spec.pack, item.inst, item.placement, item.result
    ns, name = result.namespace, result.name
    ports = result.node_ports
    names = pack.member_ports

    def member_ports(ordinal: int) -> dict[str, int]:
        return {name: ports[str(ordinal) if i == 0 else f"{ordinal}/{name}"] for i, name in enumerate(names)}

    slots = [(s.id, s.cluster, s.ordinal, k8s.host_port(item.views[s.cluster].vip, ports[str(s.ordinal)]),
              member_ports(s.ordinal), False) for s in placement.slots]
    if result.arbiter is not None:
        a = result.arbiter
        slots.append((a.id, a.cluster, 0, k8s.host_port(item.views[a.cluster].vip, ports["arbiter"]),
                      {names[0]: ports["arbiter"]}, True))
        slots.sort(key=lambda s: s[0])
    members = evaluate.roles(pack, inst, slots, placement.counts, placement.init_cluster, result.voting.voters)
    # A leaving data member loses its vote first; a leaving arbiter keeps it (MongoDB: an arbiter always votes)
    # and leaves in one reconfig (fedrender.pipeline.scaledown).
    members = [m.model_copy(update={"leaving": True} if m.arbiterOnly else {"votes": 0, "priority": 0,
                                                                             "leaving": True})
               if m.id in result.leaving else m for m in members]
    result.members = members
    result.vote_changes = _vote_changes(item, members)
    previous = dict(item.previous.placement) if item.previous else {}
    ordinals = [OrdinalView(index=o, nodePort=ports[str(o)], nodePorts=member_ports(o),
                            clusters=sorted(c for c, n in placement.counts.items() if n > o))
                for o in range(_ordinals(item))]
    usable = len(placement.usable.get(CLUSTER, placement.eligible))  # eligibleCount: those that may hold members
    data = evaluate.placed_data(pack, inst, members, placement.counts, previous, usable,
                                placement.init_cluster, ordinals, result.initialized,
                                {"version": result.version,
                                 "featureCompatibilityVersion": result.feature_compatibility_version})
    problems = evaluate.checks(pack, inst, data) + majority_warnings(item, members)
    diagnostics.extend(problems)
    result.warnings.extend(d.message for d in problems if d.severity == "warning")
    labels = {"app.kubernetes.io/instance": name}
    tolerations = evaluate.cluster_tolerations(pack, inst)
    objects: list[dict[str, Any]] = []
    sources: list[tuple[dict[str, Any], str]] = []
    templates: dict[int, Template] = {}
    divided, shared, arbiter = [], [], []
    by_ordinal: dict[int, list[dict[str, Any]]] = {}
    for spec, obj, ordinal in evaluate.templates(pack, inst, data, ordinals):
        karmada.annotate_template(obj, spec.stateful)
        objects.append(obj)
        sources.append((obj, spec.file))
        templates[id(obj)] = spec.template
        if spec.propagation == "divided":
            divided.append(obj)
        elif spec.propagation == "arbiter":
            arbiter.append(obj)
        elif spec.propagation == "all" or ordinal is None:
            shared.append(obj)
        else:
            by_ordinal.setdefault(ordinal, []).append(obj)
    if divided:
        objects.append(karmada.divided_policy(name, ns, labels, divided, placement.counts, tolerations))
    if shared:
        objects.append(karmada.duplicated_policy(f"{name}-shared", ns, labels, [karmada.selector(o) for o in shared],
                                                 list(placement.counts), tolerations))
    for index, objs in sorted(by_ordinal.items()):
        objects.append(karmada.duplicated_policy(f"{name}-member-{index}", ns, labels,
                                                 [karmada.selector(o) for o in objs], ordinals[index].clusters,
                                                 tolerations))
    if arbiter and result.arbiter is not None:
        objects.append(karmada.duplicated_policy(f"{name}-arbiter", ns, labels, [karmada.selector(o) for o in arbiter],
                                                 [result.arbiter.cluster], tolerations))
    objects.extend(_override_policies(item, data, objects, sources, labels, diagnostics, reported, templates,
                                      {id(o) for o in divided}))
    result.template_hash = templatehash.stamp(objects)  # spec.templateHash, StatefulSet annotations (issue 14 §3)
    return objects, evaluate.references(pack, inst), templates


def _vote_changes(item: Planned, members: Sequence[MemberView]) -> list[VoteChange]:
    """Members of the previous render whose rendered votes differ from the state file's, each with the reason
    the choice of voters gave (or, when the pack's votes rule decided otherwise, that it did)."""
    before = {m.id: m.votes for m in item.previous.members} if item.previous else {}
    reasons = {c.id: c.reason for c in item.result.voting.changes}
    pack = item.spec.pack
    leaving = "it leaves the replica set (a scale-down): first its vote, then, while its pod runs, its place"
    return [VoteChange(m.id, before[m.id], m.votes, leaving if m.id in item.result.leaving else reasons.get(m.id) or (
                f"the votes rule of pack {pack.name} gives it {m.votes} "
                f"({'chosen' if m.voter else 'not chosen'} to vote by fedrender)"))
            for m in members if m.id in before and before[m.id] != m.votes]


def _override_policies(item: Planned, data: dict[str, Any], objects: list[dict[str, Any]],
                       sources: list[tuple[dict[str, Any], str]], labels: dict[str, str],
                       diagnostics: Diagnostics, reported: set[tuple[str, str, int]],
                       templates: dict[int, Template], divided: set[int]) -> list[dict[str, Any]]:
    """One OverridePolicy per object that any rule targets, named ``<object>-<kind>``, with the rules in pack
    order and clusters whose overriders are equal sharing a rule. (Karmada applies several policies of one
    object in name order; one policy per object keeps the pack's order explicit.) Every policy is applied
    here as Karmada will apply it, so a path that doesn't resolve fails now, not in a member cluster, and
    each cluster's copy of a ``divided`` object (by id) must ask for what scheduling counted there."""
    pack, inst, result = item.spec.pack, item.inst, item.result
    receivers = karmada.receivers(objects)
    evaluated: dict[str, dict[str, evaluate.Override]] = {}
    for cluster in sorted(set().union(*receivers.values()) if receivers else ()):
        message = item.snapshot.message(pack, item.views[cluster])
        for override in evaluate.overrides(pack, inst, data, message, cluster):
            _check_metadata_overriders(override, f"{inst.subject} on cluster {cluster}", diagnostics, reported)
            evaluated.setdefault(override.rule, {})[cluster] = override
    policies = []
    for obj, file in sources:
        rules: list[tuple[dict[str, Any], evaluate.Override]] = []
        for rule in pack.overrides:
            if not rule.targets(obj, file) or rule.name not in evaluated:
                continue
            groups: dict[str, tuple[evaluate.Override, list[str]]] = {}
            for cluster, override in sorted(evaluated[rule.name].items()):
                key = json.dumps(override.overriders, sort_keys=True)
                groups.setdefault(key, (override, []))[1].append(cluster)
            for override, clusters in sorted(groups.values(), key=lambda g: g[1]):
                rules.append((karmada.override_rule(clusters, override.overriders), override))
        if obj.get("kind") == "StatefulSet":
            _workload_guard(item, obj, rules, receivers, templates.get(id(obj)), diagnostics)
        if not rules and id(obj) not in divided:
            continue
        damaged, received = _check_overrides(obj, rules, receivers, diagnostics, reported, item.spec.doc,
                                             fidelity.requests_of if id(obj) in divided else None)
        if id(obj) in divided:
            fidelity.check_requests(item, obj, received, diagnostics)
        if rules:
            fidelity.report_images(item, obj, templates.get(id(obj)), damaged, diagnostics)
            name = f"{obj['metadata']['name']}-{str(obj['kind']).lower()}"
            policies.append(karmada.override_policy(name, result.namespace, labels, [obj], [r for r, _ in rules]))
    return policies


def _check_metadata_overriders(override: evaluate.Override, subject: str, diagnostics: Diagnostics,
                               reported: set[tuple[str, str, int]]) -> None:
    """Labels and annotation keys an override would set must be valid, or Karmada fails when it applies them."""
    for field in ("labelsOverrider", "annotationsOverrider"):
        for index, item in enumerate(override.overriders.get(field, [])):
            value = item.get("value") or {}
            problems = (k8s.labels(value) if field == "labelsOverrider" else
                        [(key, p) for key in sorted(value) for p in k8s.qualified_name(key, "annotation key")])
            for _, problem in problems:
                if (override.rule, f"{field}: {problem}", index) in reported:
                    continue
                reported.add((override.rule, f"{field}: {problem}", index))
                diagnostics.add(Diagnostic(f"rule {override.rule!r}: {problem} (in its {field} for {subject})",
                                           override.locations.get((field, index), override.location), field))


Received = dict[str, tuple[dict[str, Any], list[str]]]
"""Per cluster: an object as Karmada delivers it there, and the override rules that changed it."""


def _check_overrides(obj: dict[str, Any], rules: list[tuple[dict[str, Any], evaluate.Override]],
                     receivers: dict[tuple[str, str, str], set[str]], diagnostics: Diagnostics,
                     reported: set[tuple[str, str, int]], doc: SourceDoc,
                     watch: Callable[[dict[str, Any]], object] | None = None) -> tuple[fidelity.Damage, Received]:
    """Apply ``rules`` to ``obj`` for each cluster that receives it, as Karmada will: the images they would
    damage, and per cluster the object delivered there with the rules that changed ``watch`` of it (errors for
    rules that Karmada would fail to apply go to ``diagnostics``; such a cluster is left out)."""
    damaged: fidelity.Damage = {}
    received: Received = {}
    meta = obj["metadata"]
    for cluster in sorted(receivers.get((obj["kind"], meta["namespace"], meta["name"]), ())):
        current, changed = obj, []
        watched = watch(obj) if watch is not None and rules else None  # watch(current), once per step
        for rule, override in rules:
            if cluster not in rule["targetCluster"]["clusterNames"]:
                continue
            for _, path, sentence in image_damage(current, rule["overriders"]):
                entry = damaged.setdefault((override.rule, sentence), (set(), set()))
                entry[0].add(path)
                entry[1].add(cluster)
            try:
                applied = apply_overriders(current, rule["overriders"])
            except OverrideFailed as exc:
                if (override.rule, exc.field, exc.index) not in reported:
                    reported.add((override.rule, exc.field, exc.index))
                    diagnostics.add(Diagnostic(
                        f"rule {override.rule!r}: {exc} (in {obj['kind']} {meta['namespace']}/{meta['name']} "
                        f"for cluster {cluster}, of the instance defined at {doc.location(('metadata', 'name'))}; "
                        "Karmada would fail to apply it)",
                        override.locations.get((exc.field, exc.index), override.location)))
                break
            if watch is not None:
                after = watch(applied)
                if after != watched:
                    changed.append(override.rule)
                watched = after
            current = applied
        else:
            received[cluster] = (current, changed)
    return damaged, received


def _workload_guard(item: Planned, obj: dict[str, Any], rules: list[tuple[dict[str, Any], evaluate.Override]],
                    receivers: dict[tuple[str, str, str], set[str]], template: Template | None,
                    diagnostics: Diagnostics) -> None:
    """StatefulSet ``obj`` as each receiving cluster gets it (``rules`` applied, as :func:`_check_overrides`
    does) must not change a field the API server refuses to update where a previous render placed it; its claim
    templates keep their first size (:mod:`fedrender.pipeline.workloads`)."""
    claims = workloads.pin_claims(item, obj, template, diagnostics)
    _, received = _check_overrides(obj, rules, receivers, Diagnostics(), set(), item.spec.doc)

    def blame(path: PathKey) -> dict[str, list[tuple[str, Location]]]:
        _, changed = _check_overrides(obj, rules, receivers, Diagnostics(), set(), item.spec.doc,
                                      lambda o: workloads.value_at(o, path))
        pointer = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
        at = {o.rule: next((o.locations.get(("plaintext", i), o.location) for i, e in enumerate(
            o.overriders.get("plaintext", [])) if e.get("path") == pointer), o.location) for _, o in rules}
        return {cluster: [(rule, at[rule]) for rule in names] for cluster, (_, names) in changed.items()}

    workloads.guard(item, obj, template, claims, {c: o for c, (o, _) in received.items()}, blame, diagnostics)


def state(packs: Sequence[Pack], inputs: dict[str, str], results: Sequence[InstanceResult],
          files: Sequence[str]) -> bytes:
    """The state file's bytes: sorted, stable, one trailing newline. InputError (nothing is written) when the
    state would break its own consistency rules: the inputs let through something the checks before missed."""
    try:
        value = _state(packs, inputs, results, files)
    except ValidationError as exc:
        raise InputError([Diagnostic(
            f"the state this render would write is inconsistent, so nothing is written: "
            f"{'; '.join(e['msg'] for e in exc.errors())} (fedrender should have refused the input that leads here "
            "at its line: please report it)")]) from None
    return (json.dumps(value.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()


def _state(packs: Sequence[Pack], inputs: dict[str, str], results: Sequence[InstanceResult],
           files: Sequence[str]) -> State:
    return State(
        schemaVersion=SCHEMA_VERSION,
        tool=Tool(name="fedrender", version=__version__),
        rulePacks={p.name: PackState(version=p.version, digest=p.digest) for p in packs},
        inputs=inputs,
        instances={f"{r.namespace}/{r.name}": InstanceState(
            pack=r.pack,
            initCluster=r.init_cluster,
            placement=dict(sorted(r.placement.items())),
            members=[MemberState(id=m.id, cluster=m.cluster, ordinal=m.ordinal, host=m.host, nodePort=m.nodePort,
                                 votes=m.votes, priority=m.priority, arbiterOnly=m.arbiterOnly,
                                 leaving=m.leaving)
                     for m in r.members],
            nodePorts={str(o): p for o, p in sorted(r.node_ports.items())},
            initialized=r.initialized,
            workloads=dict(sorted(r.workloads.items())),
            version=r.version,
            image=r.image,
            featureCompatibilityVersion=r.feature_compatibility_version,
        ) for r in results},
        files=list(files),
    )
