"""A rule pack's ``tests.yaml``: named cases of inputs and the outputs they must produce."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from fedrender.models.base import Strict


class ObjectExpectation(Strict):
    """A field of a rendered object (as the control plane gets it, or as ``cluster`` receives it)."""

    kind: str
    name: str
    namespace: str = ""
    cluster: str = Field(default="", description="check the copy this member cluster receives (preview)")
    path: str = Field(pattern=r"^(/([^~/]|~[01])*)*$", description="RFC 6901 path in the object")
    equals: Any = None
    absent: bool = Field(default=False, description="the path must not exist")


class Expectation(Strict):
    placement: dict[str, int] | None = Field(default=None, description="members per cluster, exactly")
    excluded: dict[str, str] = Field(default_factory=dict, description="cluster -> text its reason contains")
    members: list[dict[str, Any]] = Field(default_factory=list,
                                          description="fields of members: the one with that `id`, else by position")
    warnings: list[str] = Field(default_factory=list, description="texts that some warning contains")
    errors: list[str] = Field(default_factory=list, description="the render fails; texts some error contains")
    objects: list[ObjectExpectation] = Field(default_factory=list)


class Case(Strict):
    name: str
    specs: str = Field(description="the input objects, as YAML text")
    clusters: str = Field(default="", description="a Cluster snapshot as YAML text (default: the file's)")
    overlay: dict[str, Any] = Field(default_factory=dict)
    expect: Expectation


class PackTests(Strict):
    clusters: str = Field(default="", description="default snapshot file, relative to tests.yaml")
    cases: list[Case] = Field(min_length=1)
