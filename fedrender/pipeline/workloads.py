"""Render guard for running StatefulSets: no render publishes a change the API server refuses to apply.

Each member cluster holding a StatefulSet keeps what it received first of the fields
``ValidateStatefulSetUpdate`` refuses to change (:mod:`fedrender.day2.immutable`); the state file records them
per cluster (``InstanceState.workloads``). A later render that changes one for a cluster that holds the
StatefulSet is an error at the cause: the spec field the value is copied from, the overlay key an override rule
read it from, or the pack rule or template line that renders it, with the reason and the way out.

Storage size is the one immutable field a pack may let grow (``lifecycle.claimGrowth``): the claim templates keep
the size the StatefulSet was created with and the instance's reconciler grows each member's
PersistentVolumeClaim (``reconciler/storage.py``). A claim never shrinks: core validation
``ValidatePersistentVolumeClaimUpdate`` refuses a smaller ``spec.resources.requests.storage`` ("field can not be
less than previous value"; Kubernetes docs, "Expanding Persistent Volumes Claims").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fedrender.cel.template import Template
from fedrender.day2.immutable import FORBIDDEN, immutable_spec, statefulset_update_problems
from fedrender.models.diagnostics import Diagnostic, Diagnostics, Location
from fedrender.models.quantity import QuantityError, parse_quantity
from fedrender.models.source import PathKey, format_path, origin
from fedrender.models.state import ClaimState, WorkloadState
from fedrender.pipeline.schedule import Planned

Blame = Callable[[PathKey], dict[str, list[tuple[str, Location]]]]
"""Field path -> per cluster, the override rules (name, location of the overrider) that changed it there."""

STORAGE_CLASS_FIX = (
    "MongoDB's way to move data to another class is to add members on the new class and remove the old ones, each "
    "through initial sync; fedrender has no per-member storage class, so create a new instance on the new class "
    "and migrate the data to it (or restore it from a backup), then remove this one. Keep {old} here meanwhile")
CLUSTERS = "\x00clusters\x00"
"""Stands for the clusters a problem is found in, until they are all known."""
GENERIC_FIX = ("keep {old} for this instance, or create a new instance (a new name) with the new value and migrate "
               "the data to it")


def key(obj: Mapping[str, Any]) -> str:
    """The state's key of a StatefulSet: ``StatefulSet/<name>``."""
    return f"StatefulSet/{obj['metadata']['name']}"


def value_at(obj: Any, path: PathKey) -> Any:
    """The value at ``path`` of ``obj``; None when a part is missing."""
    for part in path:
        try:
            obj = obj[part]
        except (KeyError, IndexError, TypeError):
            return None
    return obj


def pin_claims(item: Planned, obj: dict[str, Any], template: Template | None,
               diagnostics: Diagnostics) -> dict[str, ClaimState]:
    """The claim sizes of StatefulSet ``obj`` for the state. When a previous render created it, each claim
    template of ``obj`` is set back to the size it was created with (changed in place), and the size the spec asks
    for becomes the claims' requested size: growth with the pack's ``lifecycle.claimGrowth`` (an explain line),
    an error for a shrink, and an error for any size change without it."""
    previous = item.previous.workloads.get(key(obj)) if item.previous else None
    templates = value_at(obj, ("spec", "volumeClaimTemplates"))
    claims: dict[str, ClaimState] = {}
    for index, claim in enumerate(templates if isinstance(templates, list) else []):
        name = value_at(claim, ("metadata", "name"))
        path: PathKey = ("spec", "volumeClaimTemplates", index, "spec", "resources", "requests", "storage")
        size = value_at(obj, path)
        if not isinstance(name, str) or isinstance(size, bool) or not isinstance(size, (str, int)):
            continue
        old = previous.claims.get(name) if previous is not None and previous.clusters else None
        if old is None:
            claims[name] = ClaimState(template=str(size), requested=str(size))
            continue
        try:
            new, requested, created = (parse_quantity(q) for q in (size, old.requested, old.template))
        except QuantityError:
            claims[name] = ClaimState(template=str(size), requested=str(size))
            continue  # an invalid size is reported where the object's quantities are checked
        claim_at = claim["spec"]["resources"]["requests"]
        claim_at["storage"] = old.template
        claims[name] = old
        where, field = _input_or_template(item, template, path, size)
        subject = f"{item.inst.subject}: StatefulSet {obj['metadata']['name']} claim template {name!r}"
        if new < requested:
            diagnostics.add(Diagnostic(
                f"{subject}: its PersistentVolumeClaims were asked for {old.requested}; {size} would shrink them, and "
                "a PersistentVolumeClaim cannot shrink (Kubernetes, \"Expanding Persistent Volumes Claims\"; the API "
                "server refuses it: \"field can not be less than previous value\"): ask for "
                f"{old.requested} or more", where, field))
        elif new != created and item.spec.pack.claim_growth is None:
            diagnostics.add(Diagnostic(
                f"{subject}: the running StatefulSet was created with storage {old.template}; {size} would change its "
                f"volumeClaimTemplates, which the API server refuses ({FORBIDDEN}), and pack {item.spec.pack.name} "
                "does not grow claims (no lifecycle.claimGrowth): keep " + old.template + ", or grow each "
                "PersistentVolumeClaim yourself where its StorageClass allows expansion", where, field))
        elif new != created:
            claims[name] = ClaimState(template=old.template, requested=str(size) if new != requested else
                                      old.requested)
            item.result.storage.append(
                f"{name} {old.template} -> {claims[name].requested} through the PersistentVolumeClaims (StatefulSet "
                f"{obj['metadata']['name']}'s volumeClaimTemplates keep {old.template}; the reconciler grows each "
                "member's claim where its StorageClass allows expansion)")
    return claims


def guard(item: Planned, obj: dict[str, Any], template: Template | None, claims: dict[str, ClaimState],
          received: Mapping[str, dict[str, Any]], blame: Blame, diagnostics: Diagnostics) -> None:
    """Record what each cluster in ``received`` (cluster -> the StatefulSet as delivered there) holds of ``obj``'s
    immutable fields into ``item.result.workloads``; report every change of one for a cluster that held it."""
    previous = item.previous.workloads.get(key(obj)) if item.previous else None
    record: dict[str, dict[str, Any]] = {}
    found: dict[tuple[str, Location | None, str], list[str]] = {}  # one diagnostic for the clusters it is alike in
    for cluster, delivered in sorted(received.items()):
        record[cluster] = immutable_spec(delivered)
        before = previous.clusters.get(cluster) if previous is not None else None
        if before is None:  # a new copy: the cluster creates it, whatever it holds
            continue
        for path, reason in statefulset_update_problems({"spec": before}, {"spec": record[cluster]}):
            problem = _problem(item, obj, template, cluster, path, reason, value_at(before, path[1:]),
                               value_at(delivered, path), blame)
            found.setdefault((problem.message, problem.location, problem.field_path), []).append(cluster)
    for (message, where, field), clusters in found.items():
        named = f"cluster {clusters[0]}" if len(clusters) == 1 else f"clusters {', '.join(clusters)}"
        diagnostics.add(Diagnostic(message.replace(CLUSTERS, named), where, field))
    item.result.workloads[key(obj)] = WorkloadState(clusters=record, claims=claims)


def _problem(item: Planned, obj: dict[str, Any], template: Template | None, cluster: str, path: PathKey,
             reason: str, old: Any, new: Any, blame: Blame) -> Diagnostic:
    meta = obj["metadata"]
    fix = (STORAGE_CLASS_FIX if path[-1] == "storageClassName" else GENERIC_FIX).format(
        old=repr(old) if old is not None else "it unset")
    message = (f"{item.inst.subject}: StatefulSet {meta['namespace']}/{meta['name']} already runs in {CLUSTERS}: "
               f"{reason}. {fix}")
    rules = blame(path).get(cluster, [])
    if rules:
        rule, rule_at = rules[-1]
        overlay = _overlay_key(item, cluster, new)
        if overlay is not None:
            where, key_path = overlay
            return Diagnostic(f"{message} (the value comes from this overlay key, through rule {rule!r} at "
                              f"{rule_at})", where, key_path)
        return Diagnostic(f"{message} (set by rule {rule!r})", rule_at, format_path(path))
    where, field = _input_or_template(item, template, path, new)
    return Diagnostic(message, where, field)


def _input_or_template(item: Planned, template: Template | None, path: PathKey, value: Any) -> tuple[Location, str]:
    """The spec field ``value`` was copied from, else the template line that renders ``path``, else the spec."""
    doc = item.spec.doc
    traced = origin(doc, value, path[-1]) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if traced is None and isinstance(value, str) and isinstance(doc.data, dict) and isinstance(
            doc.data.get("spec"), dict):  # several fields hold it (memory: 1Gi, storageSize: 1Gi): the one named alike
        key = str(path[-1]).lower()
        alike = [("spec", *p) for p in doc.sub(("spec",)).paths_holding(value)
                 if any(key in str(part).lower() or str(part).lower() in key for part in p)]
        traced = alike[0] if len(alike) == 1 else None
    if traced is not None:
        return doc.location(traced), format_path(traced)
    if template is not None:
        return template.field_location(path), format_path(path)
    return doc.location(("metadata", "name")), "metadata.name"


def _overlay_key(item: Planned, cluster: str, value: Any) -> tuple[Location, str] | None:
    """The overlay key holding ``value`` (a string an override rule read from the overlay), preferring one keyed
    by the cluster's name, provider or region; None when no overlay file sets it."""
    if not isinstance(value, str) or not value:
        return None
    overlay = item.snapshot.overlay
    view = item.views.get(cluster)
    names = {cluster} | ({view.provider, view.region} if view is not None else set())
    found: list[tuple[bool, PathKey]] = []
    stack: list[tuple[PathKey, Any]] = [((), overlay.model_dump(mode="json"))]
    while stack:
        at, data = stack.pop()
        if isinstance(data, dict):
            stack.extend(((*at, k), v) for k, v in data.items())
        elif data == value and at:
            found.append((str(at[-1]) not in names, at))
    for _, at in sorted(found, key=lambda f: (f[0], [str(p) for p in f[1]])):
        where = overlay.source(*at)
        if where is not None:
            return where, format_path(at)
    return None
