"""Shared pydantic base classes and Kubernetes building blocks (ObjectMeta, Toleration, selectors)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from fedrender.models.quantity import parse_quantity


class Strict(BaseModel):
    """Every model rejects unknown fields; field names mirror the Kubernetes API they come from."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _quantity_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("a quantity is a number or a string such as '500m', '1Gi' or '2'")
    parse_quantity(value)
    return value if isinstance(value, str) else str(value)


QuantityStr = Annotated[str, BeforeValidator(_quantity_text)]
"""A Kubernetes quantity kept in its source spelling (ints become their decimal string)."""

ResourceList = dict[str, QuantityStr]


class ObjectMeta(Strict):
    name: str = Field(min_length=1)
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
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


class Toleration(Strict):
    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute", ""] | None = None
    tolerationSeconds: int | None = None


class LabelSelectorRequirement(Strict):
    key: str
    operator: str
    values: list[str] = Field(default_factory=list)


class LabelSelector(Strict):
    matchExpressions: list[LabelSelectorRequirement] = Field(default_factory=list)
    matchLabels: dict[str, str] = Field(default_factory=dict)
