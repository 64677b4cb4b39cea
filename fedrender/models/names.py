"""Kubernetes and Karmada name syntax, checked as the API server checks it, and the VIP of a member cluster.

Sources: ``IsDNS1123Label``, ``IsDNS1123Subdomain``, ``IsDNS1035Label``, ``IsQualifiedName`` and
``IsValidLabelValue`` in k8s.io/apimachinery/pkg/util/validation/validation.go; ``ValidatePathSegmentName`` in
k8s.io/apimachinery/pkg/api/validation/path/name.go; which kind uses which rule in kubernetes
pkg/apis/core/validation (``ValidateNamespaceName``: DNS-1123 label, ``ValidateServiceName``: DNS-1035 label),
pkg/apis/rbac/validation (path segment names) and apiextensions-apiserver (custom resources: DNS-1123
subdomain, like every other kind); Karmada's ``ValidateClusterName`` (pkg/apis/cluster/validation: a DNS-1123
label of at most 48 characters).

Every check returns the problems it found as sentences a person can act on (empty when the value is valid).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

DNS1123_LABEL_MAX: Final = 63
DNS1123_SUBDOMAIN_MAX: Final = 253
CLUSTER_NAME_MAX: Final = 48
LABEL_VALUE_MAX: Final = 63
QUALIFIED_NAME_MAX: Final = 63

_LABEL: Final = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL: Final = re.compile(_LABEL)
_DNS1123_SUBDOMAIN: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_DNS1035_LABEL: Final = re.compile(r"[a-z](?:[-a-z0-9]*[a-z0-9])?")
_QUALIFIED: Final = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
_KIND: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*")

_LABEL_RULE: Final = ("lowercase letters, digits and '-', starting and ending with a letter or digit "
                      "(e.g. 'team-a')")
_SUBDOMAIN_RULE: Final = ("lowercase letters, digits, '-' and '.', each dot-separated part starting and ending "
                          "with a letter or digit (e.g. 'orders.example.com')")
_QUALIFIED_RULE: Final = ("letters, digits, '-', '_' and '.', starting and ending with a letter or digit, "
                          "at most 63 characters, optionally after a DNS subdomain prefix and '/' "
                          "(e.g. 'tier' or 'fedrender.io/tier')")
_VALUE_RULE: Final = ("at most 63 characters: letters, digits, '-', '_' and '.', starting and ending with a letter "
                      "or digit, or empty")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def dns1123_label(value: str, what: str = "name", limit: int = DNS1123_LABEL_MAX) -> list[str]:
    """A lowercase RFC 1123 label: at most ``limit`` (63) characters of ``[a-z0-9-]``, alphanumeric at both ends."""
    if len(value) > limit:
        return [f"{_show(value)} is not a valid {what}: it has {len(value)} characters, at most {limit} are allowed"]
    if not _DNS1123_LABEL.fullmatch(value):
        return [f"{_show(value)} is not a valid {what}: a DNS-1123 label of at most {limit} characters is "
                f"{_LABEL_RULE}"]
    return []


def dns1123_subdomain(value: str, what: str = "name") -> list[str]:
    """A lowercase RFC 1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels."""
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        return [f"{_show(value)} is not a valid {what}: it has {len(value)} characters, at most "
                f"{DNS1123_SUBDOMAIN_MAX} are allowed"]
    if not _DNS1123_SUBDOMAIN.fullmatch(value) or any(len(p) > DNS1123_LABEL_MAX for p in value.split(".")):
        return [f"{_show(value)} is not a valid {what}: a DNS-1123 subdomain is {_SUBDOMAIN_RULE}"]
    return []


def dns1035_label(value: str, what: str = "name") -> list[str]:
    """An RFC 1035 label (Service names): like a DNS-1123 label, but starting with a letter."""
    if len(value) > DNS1123_LABEL_MAX:
        return [f"{_show(value)} is not a valid {what}: it has {len(value)} characters, at most "
                f"{DNS1123_LABEL_MAX} are allowed"]
    if not _DNS1035_LABEL.fullmatch(value):
        return [f"{_show(value)} is not a valid {what}: a DNS-1035 label is lowercase letters, digits and '-', "
                "starting with a letter and ending with a letter or digit (e.g. 'orders-0')"]
    return []


def path_segment(value: str, what: str = "name") -> list[str]:
    """``ValidatePathSegmentName`` (RBAC names): anything but '.', '..', '' and names holding '/' or '%'; a
    backslash and control characters are refused as well, as these names become file names."""
    if value in ("", ".", ".."):
        return [f"{_show(value)} is not a valid {what}: it may not be empty, '.' or '..'"]
    if "/" in value or "%" in value or "\\" in value:  # a backslash too: it separates paths on Windows
        return [f"{_show(value)} is not a valid {what}: it may not contain '/', '\\' or '%'"]
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return [f"{_show(value)} is not a valid {what}: it may not contain control characters"]
    return []


def cluster_name(value: str) -> list[str]:
    """A Karmada member cluster name: a DNS-1123 label of at most 48 characters."""
    return dns1123_label(value, "cluster name (Karmada's rule)", CLUSTER_NAME_MAX)


def qualified_name(value: str, what: str = "label key") -> list[str]:
    """A label or annotation key: ``[prefix/]name``, prefix a DNS-1123 subdomain, name at most 63 characters."""
    prefix, slash, name = value.rpartition("/")
    if slash and not prefix:
        return [f"{_show(value)} is not a valid {what}: the prefix before '/' is empty ({_QUALIFIED_RULE})"]
    if "/" in prefix or (slash and dns1123_subdomain(prefix)):
        return [f"{_show(value)} is not a valid {what}: only one '/' is allowed, after a prefix that is a "
                "DNS-1123 subdomain (e.g. 'fedrender.io/tier')"]
    if not name or len(name) > QUALIFIED_NAME_MAX or not _QUALIFIED.fullmatch(name):
        return [f"{_show(value)} is not a valid {what}: a qualified name is {_QUALIFIED_RULE}"]
    return []


def label_value(value: object, what: str = "label value") -> list[str]:
    """A label value: a string of at most 63 characters, empty or alphanumeric at both ends."""
    if not isinstance(value, str):
        return [f"{_show(value)} is not a valid {what}: label values are strings"]
    if value == "":
        return []
    if len(value) <= LABEL_VALUE_MAX and _QUALIFIED.fullmatch(value):
        return []
    hint = ""
    if ":" in value and _ip(value) is not None:
        hint = ("; an IPv6 address can't be a label value (':' is not allowed): give a cluster's IPv6 VIP as "
                "clusters.<cluster>.vip in the overlay instead of the vip label")
    return [f"{_show(value)} is not a valid {what}: a label value is {_VALUE_RULE}{hint}"]


def labels(mapping: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, problem) for every invalid key or value of a ``metadata.labels`` mapping."""
    out = [(key, p) for key in sorted(mapping) for p in qualified_name(key)]
    out += [(key, p) for key in sorted(mapping) for p in label_value(mapping[key])]
    return out


def kind(value: object) -> list[str]:
    """A kind: CamelCase letters and digits, as Kubernetes kinds are (it becomes part of a file name)."""
    if not isinstance(value, str) or len(value) > DNS1123_LABEL_MAX or not _KIND.fullmatch(value):
        return [f"{_show(value)} is not a valid kind: a kind is letters and digits starting with a letter "
                "(e.g. 'StatefulSet')"]
    return []


_RBAC = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})


def name_rule(kind_name: str) -> Callable[[str, str], list[str]]:
    """The check the API server applies to ``metadata.name`` of an object of ``kind_name``."""
    if kind_name == "Namespace":
        return dns1123_label
    if kind_name == "Service":
        return dns1035_label
    if kind_name in _RBAC:
        return path_segment
    return dns1123_subdomain


def object_problems(obj: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """(field path, problem) for a rendered object whose kind, name, namespace, labels (its own, its selector's
    and its pod template's) or annotation keys the API server would refuse (``metadata.name`` by the rule of its
    kind, see :func:`name_rule`)."""
    out: list[tuple[tuple[str | int, ...], str]] = [(("kind",), p) for p in kind(obj.get("kind"))]
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return [*out, (("metadata",), "an object needs metadata (a mapping with a name)")]
    name = meta.get("name")
    what = f"{obj.get('kind')} name" if not out else "name"
    if not isinstance(name, str):
        out.append((("metadata", "name"), f"{_show(name)} is not a valid {what}: names are strings"))
    else:
        rule = name_rule(str(obj.get("kind"))) if not out else dns1123_subdomain
        out += [(("metadata", "name"), p) for p in rule(name, what)]
    if "namespace" in meta:
        namespace = meta["namespace"]
        problems = (dns1123_label(namespace, "namespace") if isinstance(namespace, str)
                    else [f"{_show(namespace)} is not a valid namespace: namespaces are strings"])
        out += [(("metadata", "namespace"), p) for p in problems]
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            out.append((("metadata", field), f"metadata.{field} must be a mapping of strings"))
            continue
        if field == "labels":
            out += [(("metadata", field, key), p) for key, p in labels(value)]
        else:
            out += [(("metadata", field, key), p) for key in sorted(value) for p in
                    qualified_name(key, "annotation key")]
            out += [(("metadata", field, key), f"annotation {key!r} must be a string")
                    for key in sorted(value) if not isinstance(value[key], str)]
    for path in (("spec", "selector", "matchLabels"), ("spec", "template", "metadata", "labels")):
        nested = _at(obj, path)  # a pod template's labels and the selector that must match them
        if isinstance(nested, Mapping):
            out += [((*path, key), p) for key, p in labels(nested)]
    return out


def _at(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = obj
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def canonical_address(value: str) -> str:
    """One spelling per address: an IP address in its compressed form (``2001:db8:0::1`` -> ``2001:db8::1``), a DNS
    name in lowercase (two VIPs are the same address when these are equal)."""
    address = _ip(value)
    return address.compressed if address is not None else value.lower()


def vip(value: str) -> list[str]:
    """A member cluster's VIP: an IPv4 or IPv6 address or a DNS name (lowercase DNS-1123 subdomain), never a URL
    or ``host:port`` (fedrender adds the NodePort of each member, and brackets around an IPv6 address)."""
    if value == "":
        return []
    what = f"{_show(value)} is not a valid VIP"
    if "://" in value:
        return [f"{what}: a VIP is an address, not a URL; write only the host (e.g. '10.0.0.1' or 'db.example.com')"]
    if value.startswith("[") or "%" in value:
        return [f"{what}: write an IPv6 address bare, without brackets or a zone (e.g. '2001:db8::1'); "
                "fedrender writes member hosts as [address]:port"]
    address = _ip(value)
    if address is not None:
        return []
    host, colon, port = value.rpartition(":")
    if colon and port.isdigit() and (_ip(host) is not None or not dns1123_subdomain(host)):
        return [f"{what}: a VIP has no port; write only {host!r} (each member gets its own NodePort)"]
    if ":" in value:
        return [f"{what}: it is neither an IP address nor a DNS name"]
    if all(part.isdigit() for part in value.split(".")):
        return [f"{what}: it is not an IPv4 address (four numbers of 0-255, no leading zeros) and a DNS name "
                "can't be all digits"]
    if value.lower() != value and not dns1123_subdomain(value.lower()):
        return [f"{what}: write the DNS name in lowercase ({value.lower()!r})"]
    return [p.replace("is not a valid VIP:", "is not a valid VIP (an IP address or a DNS name):")
            for p in dns1123_subdomain(value, "VIP")]


def host_port(address: str, port: int) -> str:
    """``address:port``, with an IPv6 address in brackets (``[2001:db8::1]:30001``), as MongoDB writes hosts."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def vip_label_value(address: str) -> str:
    """The VIP as a label value: IPv4 and DNS names of at most 63 characters unchanged; an IPv6 address fully
    expanded with '-' for ':' (``2001-0db8-0000-0000-0000-0000-0000-0001``), since label values can't hold
    ':'; empty (no label) for a DNS name longer than a label value may be."""
    parsed = _ip(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return parsed.exploded.replace(":", "-")
    return address if not label_value(address) else ""


# Image references as the container runtime parses them (github.com/distribution/reference, regexp.go: the
# domain is a DNS name, or an IPv6 address in brackets, with an optional port of digits). The grammar takes any
# digits as the port; a TCP port above 65535 (or 0) reaches no registry, so it is refused here as well.
_DOMAIN = (r"(?:localhost|\[[0-9A-Fa-f:]+\]|(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)"
           r"(?:\.(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?))*)(?::[0-9]+)?")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REGISTRY = re.compile(rf"{_DOMAIN}(?:/{_COMPONENT})*")
_IMAGE = re.compile(rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?"
                    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?")


def image_reference(value: object, what: str = "image") -> list[str]:
    """Problems with a container image reference (``[registry[:port]/]path[:tag][@digest]``), as
    github.com/distribution/reference parses it; the name part is at most 255 characters, the port 1-65535."""
    if not isinstance(value, str) or not _IMAGE.fullmatch(value) or len(value.split("@")[0].rsplit(":", 1)[0]) > 255:
        return [f"{_show(value)} is not a valid {what} reference: [registry[:port]/]path[:tag][@digest], e.g. "
                "'docker.io/library/mongo:8.0' (lowercase path, no spaces or scheme)"]
    first, slash, _ = value.partition("/")
    is_domain = slash and (first == "localhost" or any(ch in first for ch in ".:[") or first.lower() != first)
    return _port_problems(value, first, what) if is_domain else []


def registry(value: object, what: str = "registry") -> list[str]:
    """Problems with a registry host and optional path, as an image reference starts (``host[:port][/path]``);
    the port 1-65535."""
    if not isinstance(value, str) or not _REGISTRY.fullmatch(value):
        return [f"{_show(value)} is not a valid {what}: a host with an optional port and path, e.g. "
                "'mirror.example.com/dockerhub' (no scheme such as https://, no spaces)"]
    return _port_problems(value, value.partition("/")[0], what)


def _port_problems(value: str, domain: str, what: str) -> list[str]:
    """The port of ``domain`` (``host:port``, ``[v6]:port``) outside TCP's 1-65535, as a problem of ``value``."""
    host, colon, port = domain.rpartition(":")
    if not colon or host.endswith(":") or (host.startswith("[") and not host.endswith("]")) or not port.isdigit():
        return []  # no port: a bracketed IPv6 address alone, or a host without ':'
    if 1 <= int(port) <= 65535:
        return []
    return [f"{_show(value)} is not a valid {what}: its registry port {int(port)} is outside 1-65535 (a TCP port)"]


def split_image(value: str) -> tuple[str, str, str]:
    """(name, tag, digest) of an image reference (``host:5000/a/b:tag@sha256:...``); tag and digest may be empty."""
    name, _, digest = value.partition("@")
    head, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        return name, "", digest
    return head, tag, digest


_DOCKER_HUB: Final = "docker.io"


def normalized_image(value: str) -> str:
    """``value`` as container runtimes read it (distribution/reference ``ParseNormalizedNamed``, normalize.go):
    a name without a registry is on Docker Hub (``docker.io``), and Docker Hub's official images are in
    ``library/`` (``mongo:7.0`` and ``docker.io/mongo:7.0`` are ``docker.io/library/mongo:7.0``;
    ``index.docker.io`` is ``docker.io``). The first path part is a registry when it holds ``.`` or ``:``, is
    ``localhost`` or has capitals. Tag and digest are kept; no ``latest`` is added. A value that is not an image
    reference is returned unchanged (its own check reports it)."""
    if image_reference(value):
        return value
    name, tag, digest = split_image(value)
    first, slash, rest = name.partition("/")
    if not slash:
        domain, remote = _DOCKER_HUB, name
    elif first == "localhost" or any(ch in first for ch in ".:") or first.lower() != first:
        domain, remote = (_DOCKER_HUB if first == "index.docker.io" else first), rest
    else:
        domain, remote = _DOCKER_HUB, name
    if domain == _DOCKER_HUB and "/" not in remote:
        remote = f"library/{remote}"
    return f"{domain}/{remote}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
