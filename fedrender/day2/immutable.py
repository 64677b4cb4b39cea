"""Which changes of a running StatefulSet the API server refuses: a pure mirror of its update validation.

Source: kubernetes/kubernetes ``pkg/apis/apps/validation/validation.go``, ``ValidateStatefulSetUpdate`` (read
at commit 2dd1588c): it copies the old object's ``replicas``, ``template``, ``updateStrategy``,
``minReadySeconds``, ``ordinals`` and ``persistentVolumeClaimRetentionPolicy`` into the new one and refuses the
update unless the specs are then ``apiequality.Semantic.DeepEqual``: "spec: Forbidden: updates to statefulset
spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy',
'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden". Newer releases also let
``revisionHistoryLimit`` change; member clusters may run older ones, so it counts as immutable here (stricter
than the newest server, never looser than any). ``volumeClaimTemplates`` are immutable as a whole, their storage
size included: growing a volume is done on each PersistentVolumeClaim (Kubernetes docs, "Expanding Persistent
Volumes Claims"), which is what the reconciler does (``reconciler/storage.py``).

``Semantic.DeepEqual`` compares quantities by value (``10Gi`` equals ``10240Mi``), and the API server stores
defaulted objects (``pkg/apis/apps/v1/defaults.go``: ``podManagementPolicy: OrderedReady``; core defaults: a claim
template's ``volumeMode: Filesystem``), so both sides are normalised that way before comparing; ``null`` is an
absent field in JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fedrender.models.quantity import QuantityError, parse_quantity
from fedrender.models.source import PathKey, format_path

MUTABLE: Final = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                  "minReadySeconds")
"""The spec fields ``ValidateStatefulSetUpdate`` lets change."""
FORBIDDEN: Final = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")
"""The API server's message (``ValidateStatefulSetUpdate``)."""


def immutable_spec(statefulset: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a StatefulSet's ``spec`` no update may change, defaulted and normalised as the API server
    compares it: mutable fields removed, ``null`` values dropped, ``podManagementPolicy`` and each claim
    template's ``volumeMode`` defaulted, quantities under a claim template's ``resources`` kept as text but
    compared by value (see :func:`statefulset_update_problems`). JSON-ready; empty when there is no spec."""
    spec = statefulset.get("spec")
    if not isinstance(spec, Mapping):
        return {}
    out: dict[str, Any] = {k: _drop_nulls(v) for k, v in sorted(spec.items()) if k not in MUTABLE and v is not None}
    out.setdefault("podManagementPolicy", "OrderedReady")
    claims = out.get("volumeClaimTemplates")
    if isinstance(claims, list):
        for claim in claims:
            if isinstance(claim, dict) and isinstance(claim.get("spec"), dict):
                claim["spec"].setdefault("volumeMode", "Filesystem")
    return out


def statefulset_update_problems(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[PathKey, str]]:
    """Each field path (from the object's root, e.g. ``("spec", "volumeClaimTemplates", 0, "spec",
    "storageClassName")``) where updating the StatefulSet ``old`` to ``new`` changes an immutable field, with a
    sentence saying from what to what; empty when the API server accepts the update. Both are StatefulSet objects
    (or their immutable parts, as :func:`immutable_spec` returns them, under ``spec``)."""
    before = immutable_spec(old) if "spec" in old else {}
    after = immutable_spec(new) if "spec" in new else {}
    out: list[tuple[PathKey, str]] = []
    _diff(before, after, ("spec",), out)
    return out


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in sorted(value.items()) if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _same_quantity(a: Any, b: Any) -> bool:
    try:
        return parse_quantity(a) == parse_quantity(b)
    except QuantityError:
        return False


def _diff(old: Any, new: Any, path: PathKey, out: list[tuple[PathKey, str]]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new)):
            _diff(old.get(key), new.get(key), (*path, key), out)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, (*path, index), out)
        return
    if old == new or ("resources" in path and _same_quantity(old, new)):
        return
    out.append((path, f"{format_path(path)} would change from {_shown(old)} to {_shown(new)}: the API server "
                      f"refuses it ({FORBIDDEN})"))


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, list):
        return f"{len(value)} entries"
    return repr(value) if isinstance(value, str) else str(value)
