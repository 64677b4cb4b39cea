"""Container images as Karmada's ``imageOverrider`` reads and rewrites them, and what such a rewrite can break.

Karmada v1.18 (``pkg/util/imageparser/parser.go``, ``pkg/util/overridemanager/imageoverride.go``): the image
is parsed with github.com/distribution/reference ``Parse`` (no normalisation), then split by Karmada's
``SplitHostname``: the part before the first ``/`` is the hostname only when it holds a ``.`` or a ``:`` or is
``localhost`` (``percona/x`` has no hostname, its repository is ``percona/x``). An image with both a tag and a
digest keeps only the tag. ``Registry`` rewrites the hostname, ``Repository`` the rest of the name, ``Tag``
the tag or digest (a value that is neither leaves it alone); ``add`` appends the value, ``replace`` sets it,
``remove`` clears it (for ``Tag``: the tag if there is one, else the digest).

Two rewrites change which image a cluster pulls, and :func:`damage` names them:

- a digest is lost: the image had a tag and a digest (``mongo:7.0@sha256:...``) and any overrider rewrote it,
  or a ``Tag`` overrider replaced or removed the digest;
- a Docker Hub image loses ``library/``: a ``Registry`` overrider on ``mongo:7.0`` or ``docker.io/mongo:7.0``
  gives ``<mirror>/mongo:7.0``, but the runtime reads those names as ``docker.io/library/mongo:7.0``, which a
  Docker Hub mirror serves as ``<mirror>/library/mongo:7.0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from fedrender.models import names

_TAG: Final = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}")


def split_hostname(name: str) -> tuple[str, str]:
    """Karmada's ``imageparser.SplitHostname``: (hostname, repository) of an image name without tag or digest."""
    first, slash, rest = name.partition("/")
    if not slash or (not any(ch in first for ch in ".:") and first != "localhost"):
        return "", name
    return first, rest


@dataclass
class Image:
    """An image reference split as Karmada's imageparser splits it (``Components``)."""

    hostname: str
    repository: str
    tag: str
    digest: str

    @classmethod
    def parse(cls, image: str) -> Image:
        """Karmada's ``imageparser.Parse``; ValueError for what distribution/reference refuses."""
        problems = names.image_reference(image)
        if problems:
            raise ValueError(f"Karmada cannot parse the image: {problems[0]}")
        name, tag, digest = names.split_image(image)
        hostname, repository = split_hostname(name)
        return cls(hostname, repository, tag, "" if tag else digest)

    def __str__(self) -> str:
        full = f"{self.hostname}/{self.repository}" if self.hostname else self.repository
        return f"{full}:{self.tag}" if self.tag else f"{full}@{self.digest}" if self.digest else full

    def set_tag_or_digest(self, value: str) -> None:
        if _TAG.fullmatch(value):
            self.tag, self.digest = value, ""
        elif _DIGEST.fullmatch(value):
            self.digest, self.tag = value, ""


def override_image(image: str, component: str, operator: str, value: str) -> str:
    """What one imageOverrider (``component`` Registry|Repository|Tag, ``operator`` add|replace|remove) makes of
    ``image`` (Karmada's ``overrideImage``). ValueError when the image doesn't parse."""
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


def damage(image: str, new: str, component: str, operator: str) -> list[str]:
    """Sentences saying how rewriting ``image`` into ``new`` by one imageOverrider changes what is pulled
    (empty when it changes only what the overrider means to change), each naming a fix."""
    if names.image_reference(image):
        return []
    out = []
    name, tag, digest = names.split_image(image)
    if digest and f"@{digest}" not in new:
        if tag:
            out.append(f"Karmada's imageOverrider turns {image} into {new}, dropping its digest: Karmada keeps only "
                       f"the tag of an image that has both; pin the image by digest alone ({name}@{digest})")
        else:
            out.append(f"the rule's Tag overrider turns {image} into {new}, dropping its digest; give the "
                       "overrider a digest as its value, or leave the tag of a pinned image alone")
    normalized = names.normalized_image(image)
    domain, path = split_hostname(names.split_image(normalized)[0])
    if component == "Registry" and operator != "remove" and domain == "docker.io" \
            and Image.parse(image).repository != path:
        out.append(f"Karmada's imageOverrider turns {image} into {new}: it replaces only the registry, and "
                   f"the image is Docker Hub's {normalized}, which a Docker Hub mirror serves under {path}; write "
                   f"the image fully qualified ({normalized}; CEL: normalizedImage(...))")
    mirror = split_hostname(names.split_image(names.normalized_image(new))[0])[0] if new != image else domain
    if component == "Registry" and operator != "remove" and domain != "docker.io" and mirror != domain:
        out.append(f"Karmada's imageOverrider turns {image} into {new}: the image comes from {domain}, not Docker "
                   f"Hub, so the mirror must serve {domain}'s images under that path (a pull-through mirror of "
                   f"Docker Hub does not); mirror {domain} there, or pull the image from a registry the mirror "
                   "serves")
    return out
