"""What Karmada does to a resource template for one member cluster: divide replicas, apply overriders.

Overriders of one rule apply in Karmada's order (``pkg/util/overridemanager``): image, command, args,
labels, annotations, plaintext. ``imageOverrider`` without a predicate rewrites ``containers[*].image``
(not init containers) of Pod, ReplicaSet, Deployment, DaemonSet, StatefulSet and Job, and nothing else;
``add`` appends to the component, ``replace`` sets it, ``remove`` clears it. Labels and annotations:
``add`` sets keys (creating the map), ``replace``/``remove`` skip absent keys. ``plaintext`` is RFC 6902.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import jsonpatch
import jsonpointer

from fedrender.composer.images import damage, override_image
from fedrender.models.karmada import POD_SPEC

ORDER = ("imageOverrider", "commandOverrider", "argsOverrider", "labelsOverrider", "annotationsOverrider",
         "plaintext")


class OverrideFailed(Exception):
    """Overrider ``index`` of kind ``field`` could not be applied (Karmada would fail the same way)."""

    def __init__(self, field: str, index: int, message: str) -> None:
        self.field = field
        self.index = index
        super().__init__(f"{field}[{index}]: {message}")


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _images(obj: dict[str, Any], overrider: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(path, image, new image) for each image one imageOverrider rewrites. Raises ValueError, KeyError and
    jsonpointer's errors where Karmada fails."""
    predicate = overrider.get("predicate")
    if predicate:
        paths = [predicate["path"]]
    elif obj.get("kind") in POD_SPEC:
        prefix = POD_SPEC[obj["kind"]]
        containers = jsonpointer.resolve_pointer(obj, prefix, {}).get("containers", [])
        paths = [f"{prefix}/containers/{i}/image" for i in range(len(containers))]
    else:
        paths = []
    out = []
    for path in paths:
        current = jsonpointer.resolve_pointer(obj, path)
        if not isinstance(current, str):
            raise ValueError(f"{path} is not an image string")
        new = override_image(current, overrider["component"], overrider.get("operator", ""),
                             str(overrider.get("value", "")))
        out.append((path, current, new))
    return out


def image_damage(obj: dict[str, Any], overriders: Mapping[str, Sequence[Mapping[str, Any]]],
                 ) -> list[tuple[int, str, str]]:
    """(imageOverrider index, path, sentence) for every image one rule's overriders would change beyond what they
    mean to change (a lost digest, a Docker Hub image that loses ``library/``; see images.damage)."""
    out: list[tuple[int, str, str]] = []
    current = obj
    for index, overrider in enumerate(overriders.get("imageOverrider", ())):
        try:
            rewrites = _images(current, overrider)
            current = jsonpatch.apply_patch(current, [{"op": "replace", "path": p, "value": new}
                                                      for p, _, new in rewrites])
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, ValueError, KeyError):
            return out  # apply_overriders reports the failure
        out += [(index, path, sentence) for path, image, new in rewrites
                for sentence in damage(image, new, overrider["component"], overrider.get("operator", ""))]
    return out


def _patches(obj: dict[str, Any], field: str, overrider: Mapping[str, Any]) -> list[dict[str, Any]]:
    operator = overrider.get("operator", "")
    if field == "imageOverrider":
        return [{"op": "replace", "path": path, "value": new} for path, _, new in _images(obj, overrider)]
    if field in ("labelsOverrider", "annotationsOverrider"):
        where = "labels" if field == "labelsOverrider" else "annotations"
        meta = obj.setdefault("metadata", {})
        existing = meta.get(where)
        out = []
        for key, value in dict(overrider.get("value") or {}).items():
            if operator in ("remove", "replace") and key not in (existing or {}):
                continue
            if operator == "add" and not isinstance(meta.get(where), dict):
                meta[where] = {}
            patch = {"op": operator, "path": f"/metadata/{where}/{_escape(key)}"}
            if operator != "remove":
                patch["value"] = value
            out.append(patch)
        return out
    if field == "plaintext":
        patch = {"op": operator, "path": overrider["path"]}
        if operator != "remove":
            patch["value"] = overrider.get("value")
        return [patch]
    raise ValueError(f"fedrender does not apply {field}")


def apply_overriders(obj: dict[str, Any], overriders: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """``obj`` with one override rule's overriders applied, in Karmada's order. Raises OverrideFailed."""
    out = copy.deepcopy(obj)
    for field in ORDER:
        for index, overrider in enumerate(overriders.get(field, ())):
            patches: list[dict[str, Any]] = []
            try:
                patches = _patches(out, field, overrider)
                out = jsonpatch.apply_patch(out, patches)
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, ValueError, KeyError) as exc:
                path = overrider.get("path") or (overrider.get("predicate") or {}).get("path")
                raise OverrideFailed(field, index, _explain(out, path, overrider.get("operator", ""), exc)) from None
    return out


def _explain(obj: Any, path: str | None, operator: str, exc: Exception) -> str:
    """Which part of ``path`` is missing, in words (jsonpointer's messages quote the whole document)."""
    if not path:
        return str(exc).splitlines()[0][:200]
    parts = jsonpointer.JsonPointer(path).parts
    node, seen = obj, ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict) and part in node:
            node, seen = node[part], f"{seen}/{part}"
            continue
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node, seen = node[int(part)], f"{seen}/{part}"
            continue
        if last and operator == "add" and isinstance(node, (dict, list)):
            break  # add creates the last member; the failure is elsewhere
        what = f"has no member {part!r}" if isinstance(node, dict) else \
            f"has {len(node)} items, no index {part}" if isinstance(node, list) else "is not an object or a list"
        return f"{operator} {path}: {seen or '/'} {what}"
    return f"{operator} {path}: {str(exc).splitlines()[0][:200]}"


def divide(replicas: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Karmada's static-weight division (Webster/Sainte-Laguë): one replica at a time to the cluster with the
    highest weight / (2 * replicas + 1); ties to fewer replicas, then name. Exact when weights sum to replicas."""
    seats = dict.fromkeys((c for c, w in weights.items() if w > 0), 0)
    if not seats:
        seats = dict.fromkeys(weights, 0)
        weights = dict.fromkeys(weights, 1)
    for _ in range(replicas):
        best = max(seats, key=lambda c: (Fraction(weights[c], 2 * seats[c] + 1), -seats[c], [-ord(ch) for ch in c]))
        seats[best] += 1
    return seats
