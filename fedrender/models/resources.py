"""Container resources as people write them in inputs, checked as the API server checks a container's
``resources`` (kubernetes pkg/apis/core/validation: ``ValidateResourceRequirements``,
``ValidateContainerResourceName``, ``ValidateResourceQuantityValue``) and a little stricter: a fraction of a byte
(``memory: 512m``, half a byte) is an error here, where Kubernetes only warns.

Quantities follow :mod:`fedrender.models.quantity`; in input they are an integer or a string (the CRDs declare
``x-kubernetes-int-or-string``), never a float or a boolean.
"""

from __future__ import annotations

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


def suggest(text: str) -> str | None:
    """A spelling of ``text`` that parses, when the mistake is a common one (``10gi``, ``10GB``, ``1 Gi``)."""
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
        if candidate != text:
            return candidate
    return None


def _parse(value: Any) -> Fraction:
    """The value of an input quantity, or a PydanticCustomError that says how to write it."""
    if isinstance(value, (bool, float)):
        hint = f" in quotes: '{value}'" if isinstance(value, float) else ""
        raise invalid(f"{value!r} is not a quantity: write an integer or a string{hint} (e.g. '500m', '1Gi', 2)")
    if not isinstance(value, (str, int)):
        raise invalid("a quantity is an integer or a string such as '500m', '1Gi' or '2'")
    try:
        return parse_quantity(value)
    except QuantityError as exc:
        fix = suggest(value) if isinstance(value, str) else None
        if fix:
            raise invalid(f"{value!r} is not a valid quantity; write {fix!r} (suffixes are case-sensitive: "
                          "Ki Mi Gi Ti for powers of 1024, k M G T for powers of 1000)") from None
        raise invalid(str(exc)) from None


def _text(value: Any) -> str:
    _parse(value)
    return value if isinstance(value, str) else str(value)


QuantityInput = Annotated[str, BeforeValidator(_text)]
"""A quantity written in an input: an integer or a string that parses, kept in its source spelling."""


def byte_problems(name: str, text: str) -> list[str]:
    """What is wrong with ``text`` as an amount of resource ``name`` (memory and storage are whole bytes)."""
    value = parse_quantity(text)
    if value < 0:
        return [f"{name} must be 0 or more, not {text!r}"]
    if _BYTES.fullmatch(name) and value.denominator != 1:
        if text.endswith("m"):
            return [f"{text!r} of {name} is {float(value):g} bytes (the suffix m means thousandths); "
                    f"write {text[:-1] + 'Mi'!r} for mebibytes"]
        return [f"{text!r} of {name} is not a whole number of bytes; write e.g. {str(value.__ceil__())!r}"]
    return []


def storage_size(value: Any) -> str:
    """A volume size: a positive whole number of bytes (``10Gi``)."""
    text = _text(value)
    problems = byte_problems("storage", text)
    if not problems and parse_quantity(text) == 0:
        problems = ["a volume needs a size above 0 (e.g. '10Gi')"]
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

    @field_validator("limits", "requests")
    @classmethod
    def _amounts(cls, value: dict[str, str]) -> dict[str, str]:
        fail_at("resources", [((name,), p, text) for name, text in sorted(value.items())
                              for p in resource_name(name) + byte_problems(name, text)])
        return value

    @model_validator(mode="after")
    def _requests_within_limits(self) -> ResourceRequirements:
        fail_at("resources", [
            (("requests", name), f"the {name} request {self.requests[name]!r} is above its limit "
             f"{self.limits[name]!r}; lower the request or raise limits.{name}", self.requests[name])
            for name in sorted(set(self.requests) & set(self.limits))
            if parse_quantity(self.requests[name]) > parse_quantity(self.limits[name])])
        return self


def _amount_problems(name: str, value: Any) -> list[str]:
    try:
        text = _text(value)
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
            if not isinstance(resources, Mapping):
                continue
            where = (*base, group, index, "resources")
            amounts: dict[str, dict[str, Fraction]] = {}
            for field in ("limits", "requests"):
                values = resources.get(field)
                for name, value in sorted(values.items()) if isinstance(values, Mapping) else []:
                    problems = _amount_problems(str(name), value)
                    out += [((*where, field, name), p) for p in problems]
                    if not problems:
                        amounts.setdefault(field, {})[name] = parse_quantity(value)
            limits = amounts.get("limits", {})
            out += [((*where, "requests", name), f"the {name} request is above its limit; lower it or raise the limit")
                    for name, request in sorted(amounts.get("requests", {}).items())
                    if name in limits and request > limits[name]]
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
