"""Render-time checks that Karmada will do what fedrender assumed: estimate capacity from the requests fedrender
scheduled with, and override images only as the override rules mean to."""

from __future__ import annotations

from typing import Any

import jsonpointer

from fedrender.cel.template import Template
from fedrender.models import names as k8s
from fedrender.models.diagnostics import Diagnostic, Diagnostics, Location
from fedrender.models.quantity import QuantityError
from fedrender.models.source import PathKey, SourceDoc, format_path
from fedrender.pipeline.schedule import Planned, pack_requests
from fedrender.scheduler import capacity

Damage = dict[tuple[str, str], tuple[set[str], set[str]]]
"""(rule, sentence) -> (paths of the images, clusters) for image overrides that change more than they mean to."""


def check_requests(item: Planned, divided: list[dict[str, Any]], diagnostics: Diagnostics) -> None:
    """Karmada estimates what fits from each divided workload's pod template: the pack's ``memberRequests`` and
    ``memberInitRequests``, which fedrender scheduled with, must ask for the same (else fits are misjudged)."""
    pack, inst = item.spec.pack, item.inst
    declared = {name: value for name, value in pack_requests(pack, inst).items() if value}
    for obj in divided:
        pod: Any = obj
        for key in ("spec",) if obj.get("kind") == "Pod" else ("spec", "template", "spec"):
            pod = pod.get(key) if isinstance(pod, dict) else None
        if not isinstance(pod, dict):
            continue
        try:
            actual = capacity.pod_requests(pod)
        except QuantityError:
            continue  # the object's own check reports the amount
        if actual != declared:
            assert pack.member_requests is not None
            diagnostics.add(Diagnostic(
                f"{inst.subject}: {obj['kind']} {obj['metadata'].get('name')} asks for {capacity.describe(actual)} "
                f"per pod as Karmada counts it (containers summed, an init container when it asks for more), but "
                f"scheduling.memberRequests and memberInitRequests of pack {pack.name} give "
                f"{capacity.describe(declared)}, so fedrender would misjudge how many members fit; make them list "
                "the template's containers and init containers", pack.member_requests.expr.location(),
                "scheduling.memberRequests"))


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
