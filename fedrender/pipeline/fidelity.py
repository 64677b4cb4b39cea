"""Render-time checks that Karmada will do what fedrender assumed: estimate capacity from the requests fedrender
scheduled with."""

from __future__ import annotations

from typing import Any

from fedrender.models.diagnostics import Diagnostic, Diagnostics
from fedrender.models.quantity import QuantityError
from fedrender.pipeline.schedule import Planned, pack_requests
from fedrender.scheduler import capacity


def check_requests(item: Planned, divided: list[dict[str, Any]], diagnostics: Diagnostics) -> None:
    """Karmada estimates what fits from each divided workload's pod template: the pack's ``memberRequests`` and
    ``memberInitRequests``, which fedrender scheduled with, must ask for the same (else fits are misjudged)."""
    pack, inst = item.spec.pack, item.inst
    declared = {name: value for name, value in pack_requests(pack, inst).items() if value}
    for obj in divided:
        pod = (obj.get("spec") or {}).get("template", {}).get("spec") if obj.get("kind") != "Pod" else obj.get("spec")
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
