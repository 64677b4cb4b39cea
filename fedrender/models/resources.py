"""Container resources as people write them in inputs, checked as the API server checks a container's
``resources`` (kubernetes pkg/apis/core/validation: ``ValidateResourceRequirements``,
``ValidateContainerResourceName``, ``ValidateResourceQuantityValue``) and a little stricter: an amount of bytes
with a suffix below one (``memory: 512m`` is half a byte, ``2000m`` two bytes) is an error here, where Kubernetes
only warns about a fraction of a byte: it is almost always ``512Mi`` mistyped.

Quantities follow :mod:`fedrender.models.quantity`; in input they are an integer or a string (the CRDs declare
``x-kubernetes-int-or-string``), never a float or a boolean.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from fedrender.models import names
from fedrender.models.base import Strict, fail_at, invalid
from fedrender.models.quantity import QuantityError, parse_quantity

STANDARD: Final = frozenset({"cpu", "memory", "ephemeral-storage"})
_BYTES: Final = re.compile(r"memory|ephemeral-storage|storage|hugepages-.+")
_SUFFIXES: Final = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E", "m")
_FRACTIONS: Final = {"m": "thousandths", "u": "millionths", "n": "billionths"}
BARE_BYTES_MIN: Final = 2**20
"""A memory or storage amount above 0 and below 1Mi is refused, however it is written: ``memory: 512`` is 512
bytes, a mistake for ``512Mi``, and ``1Ki`` or ``1e3`` are no better (Kubernetes takes them; the container then
can't start, and a volume gets its provisioner's minimum). Stricter than Kubernetes on purpose, as ``512m`` is."""


def suggest(text: str, resource: str = "") -> str | None:
    """A spelling of ``text`` that parses (and that ``resource`` takes, when given), when the mistake is a common
    one (``10gi``, ``10GB``, ``1 Gi``)."""
    squeezed = text.replace(" ", "")
    match = re.fullmatch(r"([+-]?[0-9.]+)([A-Za-z]*)", squeezed)
    if match is None:
        return None
    number, suffix = match.groups()
    candidates = [squeezed]
    if suffix.lower().endswith("b"):  # 10GB, 10GiB: quantities carry no unit letter
        suffix = suffix[:-1]
        candidates.append(number + suffix)
    candidates += [number + s for s in _SUFFIXES if s.lower() == suffix.lower() and s != "m"]
    for candidate in candidates:
        try:
            parse_quantity(candidate)
        except QuantityError:
            continue
        if candidate != text and not (resource and byte_problems(resource, candidate)):
            return candidate
    return None


def _parse(value: Any, resource: str = "") -> Fraction:
    """The value of an input quantity, or a PydanticCustomError that says how to write it (for ``resource``)."""
    if isinstance(value, (bool, float)):
        hint = f" in quotes: '{value}'" if isinstance(value, float) else ""
        raise invalid(f"{value!r} is not a quantity: write an integer or a string{hint} (e.g. '500m', '1Gi', 2)")
    if not isinstance(value, (str, int)):
        raise invalid("a quantity is an integer or a string such as '500m', '1Gi' or '2'")
    try:
        return parse_quantity(value)
    except QuantityError as exc:
        fix = suggest(value, resource) if isinstance(value, str) else None
        if fix:
            raise invalid(f"{value!r} is not a valid quantity; write {fix!r} (suffixes are case-sensitive: "
                          "Ki Mi Gi Ti for powers of 1024, k M G T for powers of 1000)") from None
        raise invalid(str(exc)) from None


def _text(value: Any, resource: str = "") -> str:
    _parse(value, resource)
    return value if isinstance(value, str) else str(value)


QuantityInput = Annotated[str, BeforeValidator(_text)]
"""A quantity written in an input: an integer or a string that parses, kept in its source spelling."""


def _meant(name: str, text: str) -> str:
    """The amount of ``name`` that ``text`` (which parses) most likely meant, spelt as Kubernetes takes it: without
    a sign, bytes counted in m, u or n read as mebibytes (``512m`` -> ``512Mi``), a bare number below 1Mi as
    mebibytes (gibibytes for storage: ``10`` -> ``10Gi``), rounded up to whole bytes."""
    meant = text.strip().lstrip("+-")
    number, suffix = re.fullmatch(r"([0-9.]*)(.*)", meant).groups()  # type: ignore[union-attr]
    if _BYTES.fullmatch(name) and suffix in _FRACTIONS:
        meant = number + "Mi"
    value = parse_quantity(meant)
    if _BYTES.fullmatch(name) and not suffix and value < BARE_BYTES_MIN:  # a bare small number: a unit was left out
        scaled = number + ("Gi" if name == "storage" else "Mi")
        if parse_quantity(scaled).denominator == 1:
            return scaled
    if _BYTES.fullmatch(name) and value.denominator != 1:
        meant = str(math.ceil(value))
    if _BYTES.fullmatch(name) and meant.isdigit() and 0 < int(meant) < BARE_BYTES_MIN:
        meant += "Gi" if name == "storage" else "Mi"
    elif _BYTES.fullmatch(name) and 0 < parse_quantity(meant) < BARE_BYTES_MIN:  # 1Ki, 1k, 1e3: a unit too small
        unit = "Gi" if name == "storage" else "Mi"
        larger = [number + u for u in ({"Ki": (unit,), "k": ("M", unit)}.get(suffix, ()))]
        meant = next((c for c in larger if parse_quantity(c).denominator == 1 and parse_quantity(c) >= BARE_BYTES_MIN),
                     f"{math.ceil(parse_quantity(meant))}{unit}")
    return meant


def byte_problems(name: str, text: str) -> list[str]:
    """What is wrong with ``text`` (which parses) as an amount of resource ``name``: a negative amount, for
    memory and storage anything but whole bytes, or bytes counted in m, u or n (``512m`` is half a byte), and a
    volume (``storage``) of 0. Each problem spells the amount most likely meant (:func:`_meant`)."""
    value = parse_quantity(text)
    if value < 0:
        return [f"{name} can't be negative ({text!r}); did you mean {_meant(name, text)!r}?"]
    if name == "storage" and value == 0:  # a volume's size (a container has no resource named storage)
        return ["a volume needs a size above 0 (e.g. '10Gi')"]
    if not _BYTES.fullmatch(name):
        return []
    suffix = re.sub(r"^\s*[+-]?[0-9.]*", "", text).strip()
    meant = _meant(name, text)
    if suffix in _FRACTIONS:
        unit = "for mebibytes" if meant.endswith("Mi") else "(mebibytes, rounded up to whole bytes)"
        return [f"{text!r} of {name} is {float(value):g} bytes (the suffix {suffix} means {_FRACTIONS[suffix]}); "
                f"write {meant!r} {unit}"]
    if value.denominator != 1:
        return [f"{text!r} of {name} is not a whole number of bytes; write e.g. {meant!r}"]
    if 0 < value < BARE_BYTES_MIN:  # 512 is 512 bytes: nothing runs in that, and no volume is that small
        bare = re.fullmatch(r"\s*\+?[0-9]+\s*", text)
        why = "an amount without a suffix counts bytes" if bare else "nothing runs in less than 1Mi"
        # A unit added to a large number is no likely meaning (999999 -> 999999Gi): show the form instead.
        fix = repr(meant) if parse_quantity(meant) <= 4096 * 2**30 else "an amount with a unit, e.g. " + (
            "'10Gi'" if name == "storage" else "'512Mi'")
        return [f"{text!r} of {name} is {value} bytes ({why}); write {fix}"]
    return []


def storage_size(value: Any) -> str:
    """A volume size: a positive whole number of bytes written as a string (``10Gi``), as FedState's CRD declares
    ``storageSize`` (``type: string``: the API server refuses an integer)."""
    if isinstance(value, int) and not isinstance(value, bool):
        fix = _meant("storage", str(value)) if value > 0 else "10Gi"
        fix = fix if parse_quantity(fix) <= 4096 * 2**30 or value >= BARE_BYTES_MIN else "10Gi"
        raise invalid(f"{value} is not a string: storageSize is a quantity string in the MultiCloudMongoDB CRD "
                      f"(an integer would be refused by the API server); write {fix!r}")
    text = _text(value, "storage")
    problems = byte_problems("storage", text)
    if problems:
        raise invalid(problems[0])
    return text


StorageSize = Annotated[str, BeforeValidator(storage_size)]


def resource_name(name: str) -> list[str]:
    """A container resource name: cpu, memory, ephemeral-storage, hugepages-<size>, or a prefixed extended
    resource such as ``nvidia.com/gpu``."""
    problems = names.qualified_name(name, "resource name")
    if problems:
        return problems
    if "/" not in name and name not in STANDARD and not name.startswith("hugepages-"):
        return [f"{name!r} is not a container resource: use cpu, memory, ephemeral-storage, hugepages-<size> or a "
                "prefixed extended resource such as 'example.com/gpu'"]
    return []


class ResourceRequirements(Strict):
    """A container's ``resources``: every amount 0 or more, memory in whole bytes, no request above its limit."""

    limits: dict[str, QuantityInput] = Field(default_factory=dict)
    requests: dict[str, QuantityInput] = Field(default_factory=dict)

    @field_validator("limits", "requests", mode="before")
    @classmethod
    def _amounts(cls, value: Any) -> Any:
        """Each amount checked knowing its resource, so that a fix offered for memory is one memory takes."""
        if isinstance(value, Mapping):
            fail_at("resources", [((name,), p, item) for name, item in sorted(value.items(), key=lambda i: str(i[0]))
                                  for p in _amount_problems(str(name), item)])
        return value

    @model_validator(mode="after")
    def _requests_within_limits(self) -> ResourceRequirements:
        fail_at("resources", [(("requests", name), problem, self.requests[name])
                              for name, problem in above_limits(self.requests, self.limits)])
        return self


def above_limits(requests: Mapping[str, str], limits: Mapping[str, str]) -> list[tuple[str, str]]:
    """(resource, problem) for each valid request above its valid limit, as the API server refuses it."""
    out = []
    for name in sorted(set(requests) & set(limits)):
        try:
            request, limit = parse_quantity(requests[name]), parse_quantity(limits[name])
        except QuantityError:
            continue  # reported as a bad quantity
        if request > limit:
            out.append((name, f"the {name} request {requests[name]!r} is above its limit {limits[name]!r}; lower "
                              f"the request or raise limits.{name}"))
    return out


def container_problems(resources: Any) -> list[tuple[tuple[str, str], str]]:
    """((limits|requests, resource), problem) for a container's ``resources`` as a rule or template gives them
    (any value: amounts may be strings, ints or anything else), checked as :class:`ResourceRequirements`."""
    if not isinstance(resources, Mapping):
        return []
    out: list[tuple[tuple[str, str], str]] = []
    valid: dict[str, dict[str, str]] = {}
    for field in ("limits", "requests"):
        values = resources.get(field)
        for name, value in sorted(values.items()) if isinstance(values, Mapping) else []:
            problems = _amount_problems(str(name), value)
            out += [((field, str(name)), p) for p in problems]
            if not problems:
                valid.setdefault(field, {})[str(name)] = _text(value)
    out += [(("requests", name), problem)
            for name, problem in above_limits(valid.get("requests", {}), valid.get("limits", {}))]
    return out


def _amount_problems(name: str, value: Any) -> list[str]:
    try:
        text = _text(value, name)
    except PydanticCustomError as exc:
        return [exc.message()]
    return resource_name(name) + byte_problems(name, text)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _pod_spec(obj: Mapping[str, Any]) -> tuple[tuple[str, ...], Mapping[str, Any]]:
    spec = _mapping(obj.get("spec"))
    if obj.get("kind") == "Pod":
        return ("spec",), spec
    return ("spec", "template", "spec"), _mapping(_mapping(spec.get("template")).get("spec"))


def object_problems(obj: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """(field path, problem) for the container resources and volume claim sizes of a rendered object (a pod or
    anything with a pod template) that Kubernetes would refuse, for packs whose input schema can't say so, and
    volume claim templates without the apiVersion and kind the API server gives them."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    base, pod = _pod_spec(obj)
    for group in ("initContainers", "containers"):
        containers = pod.get(group)
        for index, container in enumerate(containers if isinstance(containers, list) else []):
            if isinstance(container, Mapping) and "image" in container:
                out += [((*base, group, index, "image"), p) for p in names.image_reference(container["image"])]
            resources = container.get("resources") if isinstance(container, Mapping) else None
            where = (*base, group, index, "resources")
            out += [((*where, *at), problem) for at, problem in container_problems(resources)]
    claims = _mapping(obj.get("spec")).get("volumeClaimTemplates")
    for index, claim in enumerate(claims if isinstance(claims, list) else []):
        out += [(("spec", "volumeClaimTemplates", index, key), problem) for key, problem in _claim_type(claim)]
        claim_spec = claim.get("spec") if isinstance(claim, Mapping) else None
        if not isinstance(claim_spec, Mapping):
            continue
        where = ("spec", "volumeClaimTemplates", index, "spec")
        size = _mapping(_mapping(claim_spec.get("resources")).get("requests")).get("storage")
        if size is not None:
            try:
                storage_size(size)
            except PydanticCustomError as exc:
                out.append(((*where, "resources", "requests", "storage"), exc.message()))
        storage_class = claim_spec.get("storageClassName")
        if storage_class is not None:
            problems = (names.dns1123_subdomain(storage_class, "storage class name") if isinstance(storage_class, str)
                        else ["storageClassName must be a string"])
            out += [((*where, "storageClassName"), p) for p in problems]
    return out


CLAIM_TYPE: Final = {"apiVersion": "v1", "kind": "PersistentVolumeClaim"}


def _claim_type(claim: Any) -> list[tuple[str, str]]:
    """A volume claim template without ``apiVersion: v1`` and ``kind: PersistentVolumeClaim``: the API server
    returns both, so Argo CD's server-side diff shows the StatefulSet OutOfSync forever (argoproj/argo-cd#11143)."""
    if not isinstance(claim, Mapping):
        return []
    return [(key, f"{key} must be {value!r}: the API server returns it in every volume claim template, and without "
                  f"it Argo CD shows the StatefulSet OutOfSync forever; write {key}: {value}")
            for key, value in CLAIM_TYPE.items() if claim.get(key) != value]
