"""Render-time checks that Karmada will do what fedrender assumed: estimate capacity from the requests fedrender
scheduled with, and override images only as the override rules mean to."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import jsonpointer

from fedrender.cel.template import Template
from fedrender.models import names as k8s
from fedrender.models.diagnostics import Diagnostic, Diagnostics, Location
from fedrender.models.quantity import QuantityError
from fedrender.models.source import PathKey, SourceDoc, format_path
from fedrender.pipeline.schedule import Planned
from fedrender.scheduler import capacity

Damage = dict[tuple[str, str], tuple[set[str], set[str]]]
"""(rule, sentence) -> (paths of the images, clusters) for image overrides that change more than they mean to."""


def requests_of(obj: dict[str, Any]) -> dict[str, Fraction] | None:
    """What one pod of a workload (or a Pod) asks for as Karmada counts it; None without a pod template or when
    an amount doesn't parse (the object's own check reports it)."""
    pod: Any = obj
    for key in ("spec",) if obj.get("kind") == "Pod" else ("spec", "template", "spec"):
        pod = pod.get(key) if isinstance(pod, dict) else None
    if not isinstance(pod, dict):
        return None
    try:
        return capacity.pod_requests(pod)
    except QuantityError:
        return None


def check_requests(item: Planned, obj: dict[str, Any], received: Mapping[str, tuple[dict[str, Any], list[str]]],
                   diagnostics: Diagnostics) -> None:
    """Karmada estimates what fits from the pod template each cluster receives (after the OverridePolicies):
    in each cluster, a divided workload's pods must ask for what the pack's ``memberRequests`` and
    ``memberInitRequests`` give for that cluster, which fedrender scheduled with (else fits are misjudged).

    ``received``: per cluster, the object as Karmada delivers it there and the override rules that changed what
    its pods ask for. One error per distinct disagreement, naming the clusters."""
    pack, inst = item.spec.pack, item.inst
    found: dict[tuple[str, str, str], list[str]] = {}
    for cluster, (delivered, rules) in sorted(received.items()):
        actual = requests_of(delivered)
        if actual is None or cluster not in item.requests:
            continue
        declared = {name: value for name, value in item.requests[cluster].items() if value}
        if actual != declared:
            changed = f" (after override rules {', '.join(rules)})" if rules else ""
            found.setdefault((capacity.describe(actual), capacity.describe(declared), changed), []).append(cluster)
    for (actual_text, declared_text, changed), clusters in sorted(found.items()):
        assert pack.member_requests is not None
        meta = obj["metadata"]
        diagnostics.add(Diagnostic(
            f"{inst.subject}: {obj['kind']} {meta.get('name')} asks for {actual_text} per pod in "
            f"{', '.join(clusters)}{changed}, as Karmada counts it (containers summed, an init container when it "
            f"asks for more), but scheduling.memberRequests and memberInitRequests of pack {pack.name} give "
            f"{declared_text} there, so fedrender would misjudge how many members fit; make them list the "
            "template's containers and init containers, with what the override rules give each cluster "
            "(they may read `cluster`)", pack.member_requests.expr.location(), "scheduling.memberRequests"))


def report_images(item: Planned, obj: dict[str, Any], template: Template | None, damaged: Damage,
                  diagnostics: Diagnostics) -> None:
    """A warning (in render, preview and explain) for each image an override would change beyond its intent, at
    the spec field the image comes from, else where the template writes it."""
    meta = obj["metadata"]
    for (rule, sentence), (paths, clusters) in sorted(damaged.items()):
        pointer = sorted(paths)[0]
        path: PathKey = tuple(int(p) if p.isdigit() else p for p in jsonpointer.JsonPointer(pointer).parts)
        image = jsonpointer.resolve_pointer(obj, pointer, None)
        location, field = _spec_field(item.spec.doc, item.spec.model.model_dump(mode="json", by_alias=True,
                                                                               exclude_none=True), image)
        if location is None and template is not None:
            location, field = template.field_location(path), format_path(path)
        message = (f"{item.inst.subject}: {sentence} (override rule {rule!r}, {obj['kind']} {meta['name']} "
                   f"{', '.join(sorted(paths))}, in {', '.join(sorted(clusters))})")
        diagnostics.add(Diagnostic(message, location, field, "warning"))
        item.result.warnings.append(message)


def _spec_field(doc: SourceDoc, data: Any, image: Any, path: PathKey = ()) -> tuple[Location | None, str]:
    """Where the spec writes ``image`` (as is, or as Docker reads it): its location and field path."""
    if isinstance(data, str):
        if data == image or k8s.normalized_image(data) == image:
            return doc.location(path), format_path(path)
        return None, ""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found = _spec_field(doc, value, image, (*path, key))
        if found[0] is not None:
            return found
    return None, ""
