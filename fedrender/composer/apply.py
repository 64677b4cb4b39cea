"""What Karmada does to a resource template for one member cluster: divide replicas, apply overriders.

Overriders of one rule apply in Karmada's order (``pkg/util/overridemanager``): image, command, args,
labels, annotations, plaintext. ``imageOverrider`` without a predicate rewrites ``containers[*].image``
(not init containers) of Pod, ReplicaSet, Deployment, DaemonSet, StatefulSet and Job, and nothing else;
``add`` appends to the component, ``replace`` sets it, ``remove`` clears it. Labels and annotations:
``add`` sets keys (creating the map), ``replace``/``remove`` skip absent keys. ``plaintext`` is RFC 6902.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import jsonpatch
import jsonpointer

from fedrender.models.karmada import POD_SPEC

ORDER = ("imageOverrider", "commandOverrider", "argsOverrider", "labelsOverrider", "annotationsOverrider",
         "plaintext")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}$")


class OverrideFailed(Exception):
    """Overrider ``index`` of kind ``field`` could not be applied (Karmada would fail the same way)."""

    def __init__(self, field: str, index: int, message: str) -> None:
        self.field = field
        self.index = index
        super().__init__(f"{field}[{index}]: {message}")


@dataclass
class Image:
    """An image reference split as Karmada's imageparser splits it."""

    hostname: str
    repository: str
    tag: str
    digest: str

    @classmethod
    def parse(cls, image: str) -> Image:
        name, _, digest = image.partition("@")
        tag = ""
        head, slash, last = name.rpartition("/")
        if ":" in last:
            last, tag = last.split(":", 1)
            name = head + slash + last
        hostname, _, repository = name.partition("/") if "/" in name else ("", "", name)
        if not repository:
            raise ValueError(f"cannot parse image {image!r}")
        return cls(hostname, repository, tag, digest)

    def __str__(self) -> str:
        full = f"{self.hostname}/{self.repository}" if self.hostname else self.repository
        return f"{full}:{self.tag}" if self.tag else f"{full}@{self.digest}" if self.digest else full

    def set_tag_or_digest(self, value: str) -> None:
        if _TAG.match(value):
            self.tag, self.digest = value, ""
        elif _DIGEST.match(value):
            self.digest, self.tag = value, ""


def override_image(image: str, component: str, operator: str, value: str) -> str:
    parsed = Image.parse(image)
    if component == "Registry":
        parsed.hostname = {"add": parsed.hostname + value, "replace": value, "remove": ""}[operator]
    elif component == "Repository":
        parsed.repository = {"add": parsed.repository + value, "replace": value, "remove": ""}[operator]
    elif operator == "remove":
        parsed.tag, parsed.digest = ("", parsed.digest) if parsed.tag else ("", "")
    else:
        parsed.set_tag_or_digest((parsed.tag or parsed.digest) + value if operator == "add" else value)
    return str(parsed)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _patches(obj: dict[str, Any], field: str, overrider: Mapping[str, Any]) -> list[dict[str, Any]]:
    operator = overrider.get("operator", "")
    if field == "imageOverrider":
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
            new = override_image(current, overrider["component"], operator, str(overrider.get("value", "")))
            out.append({"op": "replace", "path": path, "value": new})
        return out
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
