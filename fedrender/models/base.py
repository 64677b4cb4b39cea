"""Shared pydantic base classes and Kubernetes building blocks (ObjectMeta, Toleration, selectors).

Every model is strict, as the API server is: ``"3"`` is not an integer, ``"false"`` not a boolean and ``1``
not a string (pydantic's strict mode; an int is still accepted where a number is expected).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from fedrender.models import names
from fedrender.models.quantity import parse_quantity

Loc = tuple[str | int, ...]


class Strict(BaseModel):
    """Every model rejects unknown fields and mistyped scalars; field names mirror the Kubernetes API they come
    from."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


def invalid(problem: str) -> PydanticCustomError:
    """A validation error whose message is ``problem`` as written (braces in it are not placeholders)."""
    return PydanticCustomError("invalid_value", "{problem}", {"problem": problem})


def fail_at(title: str, problems: Sequence[tuple[Loc, str, Any]]) -> None:
    """Raise, from inside a validator, one error per (location below the model, problem, input value), so that
    each is reported at the exact field (``requests.memory``) rather than at the model."""
    if problems:
        raise ValidationError.from_exception_data(title, [
            InitErrorDetails(type=invalid(problem), loc=loc, input=value) for loc, problem, value in problems])


def checked(check: Any) -> Any:
    """An ``AfterValidator`` raising :func:`invalid` with the problems ``check(value)`` returns."""
    def validate(value: Any) -> Any:
        problems = check(value)
        if problems:
            raise invalid("; ".join(problems))
        return value
    return AfterValidator(validate)


DNSSubdomain = Annotated[str, checked(names.dns1123_subdomain)]
"""The name of an object (Secret, ConfigMap, StorageClass, custom resource): a DNS-1123 subdomain."""
DNSLabel = Annotated[str, checked(names.dns1123_label)]
ClusterName = Annotated[str, checked(names.cluster_name)]
LabelKey = Annotated[str, checked(names.qualified_name)]
LabelValue = Annotated[str, checked(names.label_value)]
AnnotationKey = Annotated[str, checked(lambda key: names.qualified_name(key, "annotation key"))]
VIP = Annotated[str, checked(names.vip)]
Registry = Annotated[str, checked(names.registry)]


def _quantity_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("a quantity is a number or a string such as '500m', '1Gi' or '2'")
    parse_quantity(value)
    return value if isinstance(value, str) else str(value)


QuantityStr = Annotated[str, BeforeValidator(_quantity_text)]
"""A Kubernetes quantity kept in its source spelling (ints become their decimal string). Lenient: also takes a
float, for what ``kubectl get -o yaml`` may print; inputs people write use :data:`QuantityInput`."""

ResourceList = dict[str, QuantityStr]


TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
"""Bytes of all annotation keys and values of one object (apimachinery ``TotalAnnotationSizeLimitB``)."""


class ObjectMeta(Strict):
    """``metadata`` of an input object: the name a DNS-1123 subdomain, the namespace a DNS-1123 label, labels and
    annotation keys as Kubernetes checks them (k8s.io/apimachinery/pkg/api/validation/objectmeta.go)."""

    name: str
    namespace: str | None = None
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    annotations: dict[AnnotationKey, str] = Field(default_factory=dict)
    uid: str | None = None
    resourceVersion: str | None = None
    generation: int | None = None
    creationTimestamp: str | None = None
    deletionTimestamp: str | None = None
    deletionGracePeriodSeconds: int | None = None
    finalizers: list[str] = Field(default_factory=list)
    generateName: str | None = None
    selfLink: str | None = None
    ownerReferences: list[dict[str, Any]] = Field(default_factory=list)
    managedFields: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("annotations")
    @classmethod
    def _annotations_size(cls, value: dict[str, str]) -> dict[str, str]:
        size = sum(len(k.encode()) + len(v.encode()) for k, v in value.items())
        if size > TOTAL_ANNOTATION_SIZE_LIMIT:
            raise invalid(f"annotations take {size} bytes; Kubernetes allows {TOTAL_ANNOTATION_SIZE_LIMIT} (256 KiB) "
                          "in all (keys and values), so the API server would refuse this object")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problems = names.dns1123_subdomain(value, "name")
        if problems:
            raise invalid(problems[0] + "; rename the object")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        problems = names.dns1123_label(value, "namespace") if value else []  # "" is unset, as for kubectl
        if problems:
            raise invalid(problems[0])
        return value


class Toleration(Strict):
    """A pod toleration, checked as kubernetes pkg/apis/core/validation ``ValidateTolerations`` does."""

    key: LabelKey | None = None
    operator: Literal["Exists", "Equal", ""] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute", ""] | None = None
    tolerationSeconds: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Toleration:
        problems: list[tuple[Loc, str, Any]] = []
        if self.operator == "Exists" and self.value:
            problems.append((("value",), "a toleration with operator Exists has no value; remove it", self.value))
        if not self.key and self.operator != "Exists":
            problems.append((("operator",), "a toleration without key must use operator Exists", self.operator))
        if self.tolerationSeconds is not None and self.effect != "NoExecute":
            problems.append((("tolerationSeconds",), "tolerationSeconds needs effect NoExecute",
                             self.tolerationSeconds))
        fail_at("toleration", problems)
        return self


class LabelSelectorRequirement(Strict):
    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)


class LabelSelector(Strict):
    matchExpressions: list[LabelSelectorRequirement] = Field(default_factory=list)
    matchLabels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
