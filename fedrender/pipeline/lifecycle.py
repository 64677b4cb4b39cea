"""The render side of a pack's ``lifecycle``: what release and featureCompatibilityVersion an instance asks for,
judged by :mod:`fedrender.day2.versions` against the previous state and the observed state, and applied to the
planned instance (a held upgrade renders the previous image).

Where each problem is reported: a release change at the input's image field (``lifecycle.imageField``, e.g.
``spec.imageSetting.image``), a featureCompatibilityVersion at the annotation that asks for it or at the overlay's
``values.<pack>.<setting>``.
"""

from __future__ import annotations

from typing import Any

from fedrender.day2 import observe, versions
from fedrender.models.diagnostics import Diagnostic, Diagnostics, Location
from fedrender.models.overlay import Overlay
from fedrender.pipeline.schedule import Planned
from fedrender.rules import evaluate


def apply(item: Planned, observation: observe.Observation | None, overlay: Overlay,
          diagnostics: Diagnostics) -> None:
    """Judge the instance's release and featureCompatibilityVersion; record them on ``item.result`` (the state
    and the roster take them from there), hold the image when an upgrade waits, and report problems, warnings and
    ``waiting:`` lines. Nothing happens for a pack without a ``lifecycle``."""
    pack, inst, result = item.spec.pack, item.inst, item.result
    life = pack.lifecycle
    if life is None:
        return
    image = str(evaluate.variable(inst, life.image))
    fcv, source, fcv_at, fcv_path = _requested_fcv(item, overlay)
    request = versions.Request(evaluate.lifecycle_version(pack, inst), image, fcv, source)
    previous = item.previous
    before = versions.Before(previous.version, previous.image, previous.featureCompatibilityVersion) \
        if previous else None
    seen = versions.Seen(observation.usable, observation.feature_compatibility_version, observation.fcv_target) \
        if observation else versions.Seen()
    decision = versions.decide(request, before, seen)
    image_path = tuple(p for p in life.image_field.split(".") if p)
    for problem in decision.problems:
        at, path = (fcv_at, fcv_path) if problem.at == "fcv" else (item.spec.doc.location(image_path), life.image_field)
        diagnostics.add(Diagnostic(f"{inst.subject}: {problem.message}", at, path))
    for warning in decision.warnings:
        diagnostics.add(Diagnostic(f"{inst.subject}: {warning}", item.spec.doc.location(image_path),
                                   life.image_field, severity="warning"))
        result.warnings.append(f"{inst.subject}: {warning}")
    needs = list(decision.waiting)
    result.waiting += (observe.waiting(observation, needs) if observation and decision.needs_observation
                       else needs)
    result.allowed += list(decision.allowed)
    if decision.held:
        item.inst = evaluate.with_variables(pack, inst, {life.image: decision.image})
    result.version, result.image, result.feature_compatibility_version = (decision.version, decision.image,
                                                                         decision.fcv)


def _requested_fcv(item: Planned, overlay: Overlay) -> tuple[str, str, Location | None, str]:
    """The featureCompatibilityVersion asked for, where (in words, for messages), its location and field path: the
    instance's annotation when it has one, else the overlay's setting (the pack's default when no overlay sets
    it)."""
    pack = item.spec.pack
    life = pack.lifecycle
    if life is None or not life.fcv_setting:
        return "", "", None, ""
    meta: dict[str, Any] = item.spec.model.model_dump(by_alias=True)["metadata"]
    annotations = meta.get("annotations") or {}
    if life.fcv_annotation and life.fcv_annotation in annotations:
        value = annotations[life.fcv_annotation]
        return (str(value), f"annotation {life.fcv_annotation}",
                item.spec.doc.location(("metadata", "annotations", life.fcv_annotation)),
                f"metadata.annotations.{life.fcv_annotation}")
    value = item.result.settings.get(life.fcv_setting, "")
    key = f"values.{pack.name}.{life.fcv_setting}"
    where = overlay.source("values", pack.name, life.fcv_setting)
    return str(value), key if where else f"{key} (default)", where or life.location, key
