"""Overlays: per-environment data the rule packs read as ``overlay.*``.

``--overlay DIR`` may be given several times. Files are merged in this order: directories in the order
given, and within a directory its ``*.yaml``/``*.yml`` files (not subdirectories) in name order. Later
files win: mappings merge key by key, everything else (lists, scalars) is replaced. Each file is checked
against this schema on its own, so a mistake is reported at its file and line.

Strict as Kubernetes: label keys and values, cluster names (Karmada's DNS-1123 labels of at most 48
characters), storage class and secret store names (DNS-1123 subdomains), VIPs (an IP address or a DNS name, see
:func:`fedrender.models.names.vip`) and container resources (:mod:`fedrender.models.resources`) are checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, model_validator

from fedrender.models import names
from fedrender.models.base import VIP, ClusterName, DNSSubdomain, LabelKey, LabelValue, Registry, Strict, checked
from fedrender.models.diagnostics import Location, closest
from fedrender.models.resources import ResourceRequirements

OptionalName = Annotated[str, checked(lambda value: names.dns1123_subdomain(value) if value else [])]


class NodePortRange(Strict):
    min: int = Field(default=30000, ge=1, le=65535)
    max: int = Field(default=32767, ge=1, le=65535)

    @model_validator(mode="after")
    def _ordered(self) -> NodePortRange:
        if self.min > self.max:
            raise ValueError(f"nodePorts.min ({self.min}) is above nodePorts.max ({self.max})")
        return self


class ClusterOverlay(Strict):
    vip: VIP = Field(default="", description="external address of a cluster that has no `vip` label: an IPv4 or "
                     "IPv6 address or a DNS name, without port")


Resources = ResourceRequirements


class ResourceTiers(Strict):
    """Container resources by the value of a cluster label (e.g. ``fedrender.io/tier: large``)."""

    label: LabelKey = "fedrender.io/tier"
    tiers: dict[LabelValue, Resources] = Field(default_factory=dict, description="by label value")


class Overlay(Strict):
    nodePorts: NodePortRange = Field(default_factory=NodePortRange)
    clusters: dict[ClusterName, ClusterOverlay] = Field(default_factory=dict, description="per cluster name")
    registryMirrors: dict[str, Registry] = Field(default_factory=dict, description="region -> image registry")
    storageClasses: dict[str, DNSSubdomain] = Field(default_factory=dict, description="provider -> storage class")
    resourceTiers: ResourceTiers = Field(default_factory=ResourceTiers)
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict,
                                               description="added to every object fedrender renders")
    secretStore: OptionalName = Field(default="", description="name of an external secret store (not used yet)")
    values: dict[str, Any] = Field(default_factory=dict, description="free-form data for rule packs")
    _sources: dict[tuple[str | int, ...], Location] = PrivateAttr(default_factory=dict)

    def record_sources(self, sources: Mapping[tuple[str | int, ...], Location]) -> None:
        """Remember where each field path was last set (the loader calls this; not part of the schema)."""
        self._sources.update(sources)

    def source(self, *path: str | int) -> Location | None:
        """Where the overlay file that set ``path`` (or its closest parent) last sets it; None when none did."""
        return closest(self._sources, path)
