"""The pod templates' hash of an instance: what "the current pod template" means across member clusters.

Each member cluster's StatefulSet controller computes its own ``status.updateRevision`` (a hash of the pod template
*it* received, after Karmada applied the OverridePolicies for that cluster; Kubernetes
``pkg/controller/history/controller_history.go:HashControllerRevision``), so revisions differ between clusters and
say nothing about whether a cluster has received the latest render yet. The template hash is one value for the
whole instance, computed at render time, that changes whenever any member would run a different pod template:

* every rendered ``apps/v1`` StatefulSet's ``spec.template``, by name, and
* for each member cluster an OverridePolicy names, the pod template it receives after the OverridePolicies that
  select the StatefulSet are applied to it (as Karmada applies them: policies by name, rules in order, each
  rule's overriders in Karmada's order; :func:`fedrender.composer.apply.apply_overriders`), when it differs
  from the StatefulSet's own: which cluster receives which variant counts, so a cluster moved from one variant
  to another (a resource tier relabelled) changes the hash and the roster's generation, and Argo CD waits for
  the reconcilers to report on it.

It leaves out ``replicas``: a scale-up or scale-down is a roster change, not a template change, and restarts
nothing (the hash changes only when a cluster whose copy differs starts or stops receiving the instance; then no
pod runs an older revision of its own StatefulSet, and nothing restarts either). Overriders that change the
StatefulSet outside its pod template (the cluster-identity labels, a storage class in ``volumeClaimTemplates``)
restart nothing, and are left out for the same reason.

Render writes the value to each StatefulSet's ``metadata.annotations["fedrender.io/template-hash"]`` and to the
roster's ``spec.templateHash``; a reconciler judges its members against its local StatefulSet only when that
StatefulSet carries the roster's hash (issue 14 section 3).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from fedrender.composer.apply import OverrideFailed, apply_overriders

ANNOTATION = "fedrender.io/template-hash"
SPEC_FIELD = "templateHash"
LENGTH = 16
"""Hex characters kept (64 bits): enough to tell the renders of one instance apart."""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _pod_template(obj: Mapping[str, Any]) -> Any:
    """``spec.template`` of a rendered object (None when a template renders no such field)."""
    spec = obj.get("spec")
    return spec.get("template") if isinstance(spec, dict) else None


def _selects(policy: Mapping[str, Any], obj: Mapping[str, Any]) -> bool:
    meta = obj["metadata"]
    return any(s.get("apiVersion") == obj["apiVersion"] and s.get("kind") == obj["kind"]
               and s.get("name") == meta["name"]
               and s.get("namespace", policy["metadata"].get("namespace", "")) == meta.get("namespace", "")
               for s in policy["spec"].get("resourceSelectors", []))


def _overridden(obj: dict[str, Any], policies: Sequence[Mapping[str, Any]]) -> set[str]:
    """``<cluster>=<canonical JSON>`` of every pod template a cluster receives that differs from ``obj``'s own."""
    chosen = sorted((p for p in policies if _selects(p, obj)), key=lambda p: str(p["metadata"]["name"]))
    rules = [rule for policy in chosen for rule in policy["spec"].get("overrideRules", [])]
    clusters = {c for rule in rules for c in rule.get("targetCluster", {}).get("clusterNames", [])}
    sequences: dict[tuple[int, ...], list[str]] = {}
    for c in sorted(clusters):  # clusters that receive the same rules receive the same template
        sequences.setdefault(tuple(i for i, rule in enumerate(rules) if c in rule["targetCluster"]["clusterNames"]),
                             []).append(str(c))
    base = _pod_template(obj)
    out: set[str] = set()
    for sequence, receivers in sorted(sequences.items()):
        current = obj
        try:
            for index in sequence:
                current = apply_overriders(current, rules[index]["overriders"])
        except OverrideFailed:
            continue  # compose reports it (Karmada would fail to apply the rule); no template to hash
        template = _pod_template(current)
        if template != base:
            out.update(f"{cluster}={_canonical(template)}" for cluster in receivers)
    return out


def template_hash(objects: Sequence[dict[str, Any]]) -> str:
    """The hash (``LENGTH`` lowercase hex characters of a sha256) of the pod templates of ``objects`` (one
    instance's rendered objects, OverridePolicies included), or "" when they hold no StatefulSet. The same
    objects give the same value; ``replicas``, placement and non-template overriders do not change it."""
    workloads = sorted((o for o in objects if o.get("apiVersion") == "apps/v1" and o.get("kind") == "StatefulSet"),
                       key=lambda o: str(o["metadata"]["name"]))
    if not workloads:
        return ""
    policies = [o for o in objects if o.get("kind") == "OverridePolicy"]
    hashed = {str(o["metadata"]["name"]): {"template": _pod_template(o), "overridden": sorted(_overridden(o, policies))}
              for o in workloads}
    return hashlib.sha256(_canonical(hashed).encode()).hexdigest()[:LENGTH]


def stamp(objects: Sequence[dict[str, Any]]) -> str:
    """Compute :func:`template_hash` of ``objects`` and write it to each StatefulSet's ``ANNOTATION`` and to the
    ``spec.templateHash`` of every object whose template declares that field (the pack's roster); the hash."""
    value = template_hash(objects)
    if not value:
        return value
    for obj in objects:
        if obj.get("apiVersion") == "apps/v1" and obj.get("kind") == "StatefulSet":
            meta = obj.setdefault("metadata", {})
            meta["annotations"] = {**meta.get("annotations", {}), ANNOTATION: value}
        elif isinstance(obj.get("spec"), dict) and SPEC_FIELD in obj["spec"]:
            obj["spec"][SPEC_FIELD] = value
    return value
