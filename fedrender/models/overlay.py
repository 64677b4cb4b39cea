"""Overlays: per-environment data the rule packs read as ``overlay.*``.

``--overlay DIR`` may be given several times. Files are merged in this order: directories in the order
given, and within a directory its ``*.yaml``/``*.yml`` files (not subdirectories) in name order. Later
files win: mappings merge key by key, everything else (lists, scalars) is replaced. Each file is checked
against this schema on its own, so a mistake is reported at its file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from fedrender.models.base import ResourceList, Strict
from fedrender.models.diagnostics import Location, closest


class NodePortRange(Strict):
    min: int = Field(default=30000, ge=1, le=65535)
    max: int = Field(default=32767, ge=1, le=65535)

    @model_validator(mode="after")
    def _ordered(self) -> NodePortRange:
        if self.min > self.max:
            raise ValueError(f"nodePorts.min ({self.min}) is above nodePorts.max ({self.max})")
        return self


class ClusterOverlay(Strict):
    vip: str = Field(default="", description="external address of a cluster that has no `vip` label")


class Resources(Strict):
    requests: ResourceList = Field(default_factory=dict)
    limits: ResourceList = Field(default_factory=dict)


class ResourceTiers(Strict):
    """Container resources by the value of a cluster label (e.g. ``fedrender.io/tier: large``)."""

    label: str = "fedrender.io/tier"
    tiers: dict[str, Resources] = Field(default_factory=dict)


class Overlay(Strict):
    nodePorts: NodePortRange = Field(default_factory=NodePortRange)
    clusters: dict[str, ClusterOverlay] = Field(default_factory=dict, description="per cluster name")
    registryMirrors: dict[str, str] = Field(default_factory=dict, description="region -> image registry")
    storageClasses: dict[str, str] = Field(default_factory=dict, description="provider -> storage class")
    resourceTiers: ResourceTiers = Field(default_factory=ResourceTiers)
    labels: dict[str, str] = Field(default_factory=dict, description="added to every object fedrender renders")
    secretStore: str = Field(default="", description="name of an external secret store (not used yet)")
    values: dict[str, Any] = Field(default_factory=dict, description="free-form data for rule packs")
    _sources: dict[tuple[str | int, ...], Location] = PrivateAttr(default_factory=dict)

    def record_sources(self, sources: Mapping[tuple[str | int, ...], Location]) -> None:
        """Remember where each field path was last set (the loader calls this; not part of the schema)."""
        self._sources.update(sources)

    def source(self, *path: str | int) -> Location | None:
        """Where the overlay file that set ``path`` (or its closest parent) last sets it; None when none did."""
        return closest(self._sources, path)
