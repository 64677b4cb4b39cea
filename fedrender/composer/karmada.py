"""Karmada PropagationPolicy and OverridePolicy objects, and Argo CD sync annotations, as plain dicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

POLICY_API = "policy.karmada.io/v1alpha1"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
POLICY_WAVE = "-1"
TEMPLATE_WAVE = "0"
MANAGED_BY = {"app.kubernetes.io/managed-by": "fedrender"}

# Karmada taints unhealthy clusters with these keys. Tolerating them (with no tolerationSeconds, i.e. forever)
# keeps Karmada from moving members on its own: failover is a reviewed re-render, not a silent move.
KEEP_MEMBERS_TOLERATIONS = (
    {"key": "cluster.karmada.io/not-ready", "operator": "Exists"},
    {"key": "cluster.karmada.io/unreachable", "operator": "Exists"},
)


def selector(obj: Mapping[str, Any]) -> dict[str, str]:
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"],
            "namespace": meta.get("namespace", "")}


def _policy(kind: str, name: str, namespace: str, labels: Mapping[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": POLICY_API,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": {**labels, **MANAGED_BY},
                     "annotations": {SYNC_WAVE: POLICY_WAVE}},
        "spec": spec,
    }


def _placement(clusters: Sequence[str], tolerations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"clusterAffinity": {"clusterNames": sorted(clusters)},
            "clusterTolerations": [*KEEP_MEMBERS_TOLERATIONS, *tolerations]}


def cluster_policy(name: str, objects: Sequence[Mapping[str, Any]], clusters: Sequence[str]) -> dict[str, Any]:
    """A ClusterPropagationPolicy copying ``objects`` (cluster-scoped or not) to every one of ``clusters``."""
    selectors = [{k: v for k, v in selector(o).items() if v} for o in objects]
    return {
        "apiVersion": POLICY_API,
        "kind": "ClusterPropagationPolicy",
        "metadata": {"name": name, "labels": dict(MANAGED_BY), "annotations": {SYNC_WAVE: POLICY_WAVE}},
        "spec": {
            "resourceSelectors": sorted(selectors, key=_selector_key),
            "placement": {**_placement(clusters, []), "replicaScheduling": {"replicaSchedulingType": "Duplicated"}},
        },
    }


def divided_policy(name: str, namespace: str, labels: Mapping[str, str], objects: Sequence[Mapping[str, Any]],
                   counts: Mapping[str, int], tolerations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Workloads divided over clusters with static weights equal to member counts (exact in every version)."""
    placement = _placement(list(counts), tolerations)
    placement["replicaScheduling"] = {
        "replicaSchedulingType": "Divided",
        "replicaDivisionPreference": "Weighted",
        "weightPreference": {"staticWeightList": [
            {"targetCluster": {"clusterNames": [cluster]}, "weight": counts[cluster]} for cluster in sorted(counts)
        ]},
    }
    return _policy("PropagationPolicy", name, namespace, labels, {
        "resourceSelectors": sorted((selector(o) for o in objects), key=_selector_key),
        "placement": placement,
    })


def duplicated_policy(name: str, namespace: str, labels: Mapping[str, str], selectors: Sequence[Mapping[str, str]],
                      clusters: Sequence[str], tolerations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Objects copied unchanged to every one of ``clusters``."""
    placement = _placement(clusters, tolerations)
    placement["replicaScheduling"] = {"replicaSchedulingType": "Duplicated"}
    return _policy("PropagationPolicy", name, namespace, labels, {
        "resourceSelectors": sorted((dict(s) for s in selectors), key=_selector_key),
        "placement": placement,
    })


def override_policy(name: str, namespace: str, labels: Mapping[str, str], objects: Sequence[Mapping[str, Any]],
                    rules: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return _policy("OverridePolicy", name, namespace, labels, {
        "resourceSelectors": sorted((selector(o) for o in objects), key=_selector_key),
        "overrideRules": list(rules),
    })


def override_rule(clusters: Sequence[str], overriders: Mapping[str, Any]) -> dict[str, Any]:
    return {"targetCluster": {"clusterNames": sorted(clusters)}, "overriders": dict(overriders)}


def _selector_key(s: Mapping[str, str]) -> tuple[str, ...]:
    return (s["apiVersion"], s["kind"], s.get("namespace", ""), s.get("name", ""))


def receivers(objects: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, str], set[str]]:
    """(kind, namespace, name) -> the clusters its PropagationPolicy sends it to."""
    out: dict[tuple[str, str, str], set[str]] = {}
    for policy in objects:
        if policy["kind"] not in ("PropagationPolicy", "ClusterPropagationPolicy"):
            continue
        clusters = set(policy["spec"]["placement"].get("clusterAffinity", {}).get("clusterNames", []))
        for s in policy["spec"]["resourceSelectors"]:
            namespace = s.get("namespace", policy["metadata"].get("namespace", ""))
            out.setdefault((s["kind"], namespace, s.get("name", "")), set()).update(clusters)
    return out


def annotate_template(obj: dict[str, Any], stateful: bool) -> dict[str, Any]:
    """Argo CD: templates sync after the policies; stateful objects need confirmation to prune or delete."""
    meta = obj.setdefault("metadata", {})
    annotations = {**meta.get("annotations", {}), SYNC_WAVE: TEMPLATE_WAVE}
    if stateful:
        annotations[SYNC_OPTIONS] = "Prune=confirm,Delete=confirm"
    meta["annotations"] = annotations
    return obj
