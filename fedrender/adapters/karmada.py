"""The Karmada API, through the kubernetes client: the Cluster snapshot and the aggregated status.

This is the only module of fedrender that imports ``kubernetes`` (import-linter enforces it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config

from fedrender.models.diagnostics import FedrenderError


class ApiUnavailable(FedrenderError):
    """The Karmada API could not be reached or refused the request."""


def connect(context: str | None, kubeconfig: Path | None) -> Any:
    try:
        return config.new_client_from_config(config_file=str(kubeconfig) if kubeconfig else None, context=context)
    except (config.ConfigException, OSError) as exc:
        raise ApiUnavailable(f"cannot load the kubeconfig context {context or '(current)'}: {exc}") from None


def snapshot(api: Any) -> dict[str, Any]:
    """``kubectl get clusters.cluster.karmada.io -o yaml``: a v1 List of Cluster objects, managedFields dropped."""
    try:
        listed = client.CustomObjectsApi(api).list_cluster_custom_object("cluster.karmada.io", "v1alpha1", "clusters")
    except (client.ApiException, urllib3.exceptions.HTTPError) as exc:
        raise ApiUnavailable(f"cannot list clusters.cluster.karmada.io: {_why(exc)}") from None
    items = []
    for item in sorted(listed.get("items", []), key=lambda i: i["metadata"]["name"]):
        item = dict(item)
        item["metadata"] = {k: v for k, v in item["metadata"].items() if k != "managedFields"}
        items.append(item)
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def replica_sets(api: Any, namespace: str | None) -> list[dict[str, Any]]:
    objects = client.CustomObjectsApi(api)
    try:
        if namespace:
            listed = objects.list_namespaced_custom_object("fedrender.io", "v1alpha1", namespace, "mongoreplicasets")
        else:
            listed = objects.list_cluster_custom_object("fedrender.io", "v1alpha1", "mongoreplicasets")
    except (client.ApiException, urllib3.exceptions.HTTPError) as exc:
        raise ApiUnavailable(f"cannot list mongoreplicasets.fedrender.io: {_why(exc)}") from None
    return sorted(listed.get("items", []), key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))


def _why(exc: Exception) -> str:
    if isinstance(exc, client.ApiException):
        return f"{exc.status} {exc.reason}"
    return f"the API server is unreachable ({type(exc).__name__})"


def topology(obj: Mapping[str, Any]) -> dict[str, Any]:
    """One replica set like FedState's status: per cluster its members with roles, and the external addresses."""
    spec, status = obj["spec"], obj.get("status") or {}
    by_cluster = {c.get("cluster"): c for c in status.get("clusters") or []}
    result = []
    for cluster in sorted({m["cluster"] for m in spec["members"]}):
        members = [m for m in spec["members"] if m["cluster"] == cluster]
        reported = by_cluster.get(cluster, {})
        roles = {m["host"]: ("PRIMARY" if m["host"] == status.get("primary") else
                             "ARBITER" if m.get("arbiterOnly") else "SECONDARY") for m in members}
        result.append({"cluster": cluster, "phase": reported.get("phase", "Unknown"), "members": len(members),
                       "healthyMembers": reported.get("healthyMembers", 0), "connectAddrWithRole": roles})
    return {"namespace": obj["metadata"]["namespace"], "name": obj["metadata"]["name"],
            "phase": status.get("phase", "Unknown"), "primary": status.get("primary", ""),
            "externalAddr": ",".join(m["host"] for m in spec["members"] if not m.get("arbiterOnly")),
            "result": result}
