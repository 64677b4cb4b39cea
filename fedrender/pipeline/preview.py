"""What one member cluster receives: the rendered templates as Karmada propagates and overrides them.

Computed from the rendered objects alone (what Argo CD syncs to the Karmada control plane): every
PropagationPolicy that names the cluster sends its resources there, Divided workloads get that cluster's
share of the replicas, then the OverridePolicies that select each object apply (in name order), each of
their rules that targets the cluster in order, each rule's overriders in Karmada's order.
Not shown: the labels and annotations Karmada adds for its own bookkeeping.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from fedrender.composer.apply import apply_overriders, divide
from fedrender.emitter import dump
from fedrender.models.state import PATH as STATE_FILE

ObjectKey = tuple[str, str, str, str]


@dataclass
class Preview:
    cluster: str
    objects: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    """(template, what the cluster receives), sorted by namespace, kind, name."""
    external: list[ObjectKey] = field(default_factory=list)
    """Objects the cluster receives from the control plane that fedrender doesn't render (Secrets, ...)."""

    def yaml(self) -> str:
        head = [f"# What member cluster {self.cluster} receives: {len(self.objects)} objects rendered by fedrender.",
                "# (Karmada adds its own bookkeeping labels and annotations, not shown.)"]
        head += [f"# Also propagated from the control plane: {kind} {ns + '/' if ns else ''}{name}"
             for _, kind, ns, name in self.external]
        return "\n".join(head) + "\n" + "".join("---\n" + dump(received).decode() for _, received in self.objects)

    def diff(self) -> str:
        out: list[str] = []
        for template, received in self.objects:
            meta = template["metadata"]
            name = f"{template['kind']} {meta.get('namespace', '')}/{meta['name']}"
            before, after = dump(template).decode(), dump(received).decode()
            out += difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"template: {name}", f"{self.cluster}: {name}")
        return "".join(out)


def _key(obj: Mapping[str, Any]) -> ObjectKey:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])


def preview(files: Mapping[str, bytes], cluster: str) -> Preview:
    """What ``cluster`` receives, from the rendered files (as render would write them)."""
    objects = [yaml.safe_load(content) for path, content in sorted(files.items()) if path != STATE_FILE]
    templates = {_key(o): o for o in objects if o["apiVersion"] != "policy.karmada.io/v1alpha1"}
    overrides = sorted((o for o in objects if o["kind"] == "OverridePolicy"), key=lambda o: o["metadata"]["name"])
    result = Preview(cluster)
    received: dict[ObjectKey, dict[str, Any]] = {}
    for policy in (o for o in objects if o["kind"] in ("PropagationPolicy", "ClusterPropagationPolicy")):
        placement = policy["spec"]["placement"]
        if cluster not in placement.get("clusterAffinity", {}).get("clusterNames", []):
            continue
        for selector in policy["spec"]["resourceSelectors"]:
            namespace = selector.get("namespace", policy["metadata"].get("namespace", ""))
            key = (selector["apiVersion"], selector["kind"], namespace, selector["name"])
            if key not in templates:
                result.external.append(key)
                continue
            obj = copy.deepcopy(templates[key])
            scheduling = placement.get("replicaScheduling", {})
            if scheduling.get("replicaSchedulingType") == "Divided" and "replicas" in obj.get("spec", {}):
                weights = {w["targetCluster"]["clusterNames"][0]: w["weight"]
                           for w in scheduling["weightPreference"]["staticWeightList"]}
                obj["spec"]["replicas"] = divide(obj["spec"]["replicas"], weights).get(cluster, 0)
            received[key] = obj
    for key, obj in received.items():
        for policy in overrides:
            if not any(_selects(s, key, policy) for s in policy["spec"].get("resourceSelectors", [])):
                continue
            for rule in policy["spec"]["overrideRules"]:
                if cluster in rule.get("targetCluster", {}).get("clusterNames", []):
                    obj = apply_overriders(obj, rule["overriders"])
        received[key] = obj
    result.objects = [(templates[k], received[k]) for k in sorted(received, key=lambda k: (k[2], k[1], k[3]))]
    result.external.sort(key=lambda k: (k[2], k[1], k[3]))
    return result


def _selects(selector: Mapping[str, Any], key: ObjectKey, policy: Mapping[str, Any]) -> bool:
    namespace = selector.get("namespace", policy["metadata"].get("namespace", ""))
    return (selector["apiVersion"], selector["kind"], namespace) == key[:3] and selector.get("name", key[3]) == key[3]
