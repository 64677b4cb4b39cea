"""An independent reading of Karmada's image overrider (v1.18.2), written for the tests from
karmada-io/karmada pkg/util/imageparser/parser.go and pkg/util/overridemanager/imageoverride.go and from
github.com/distribution/reference's grammar (regexp.go) and normalisation (normalize.go). It shares no code
with fedrender, so tests can hold fedrender's copy and the pack's rules against it."""

from __future__ import annotations

import re

# distribution/reference regexp.go, spelled out.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN_AND_PORT = rf"{_HOST}(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN_AND_PORT}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
TAG = r"[\w][\w.-]{0,127}"
DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"({_NAME})(?::({TAG}))?(?:@({DIGEST}))?")


def parse(image: str) -> tuple[str, str, str, str]:
    """``imageparser.Parse``: (hostname, repository, tag, digest); a tag hides the digest. ValueError when
    ``reference.Parse`` refuses the image."""
    match = _REFERENCE.fullmatch(image)
    if match is None or len(match.group(1)) > 255:
        raise ValueError(f"invalid reference {image!r}")
    name, tag, digest = match.group(1), match.group(2) or "", match.group(3) or ""
    slash = name.find("/")
    if slash == -1 or (not re.search(r"[.:]", name[:slash]) and name[:slash] != "localhost"):
        hostname, repository = "", name
    else:
        hostname, repository = name[:slash], name[slash + 1:]
    return hostname, repository, tag, "" if tag else digest


def render(hostname: str, repository: str, tag: str, digest: str) -> str:
    """``Components.String``."""
    full = f"{hostname}/{repository}" if hostname else repository
    if tag:
        return f"{full}:{tag}"
    return f"{full}@{digest}" if digest else full


def override(image: str, component: str, operator: str, value: str) -> str:
    """``overrideImage``."""
    hostname, repository, tag, digest = parse(image)
    if component == "Registry":
        hostname = {"add": hostname + value, "replace": value, "remove": ""}[operator]
    elif component == "Repository":
        repository = {"add": repository + value, "replace": value, "remove": ""}[operator]
    else:
        if operator == "remove":
            if tag:
                tag = ""
            else:
                digest = ""
        else:
            new = (tag or digest) + value if operator == "add" else value
            if re.fullmatch(TAG, new):
                tag, digest = new, ""
            elif re.fullmatch(DIGEST, new):
                tag, digest = "", new
    return render(hostname, repository, tag, digest)


def docker_normalized(image: str) -> tuple[str, str, str, str]:
    """(domain, path, tag, digest) as container runtimes read ``image`` (``ParseNormalizedNamed``)."""
    match = _REFERENCE.fullmatch(image)
    assert match is not None, image
    name, tag, digest = match.group(1), match.group(2) or "", match.group(3) or ""
    first, slash, rest = name.partition("/")
    if not slash:
        domain, path = "docker.io", name
    elif first == "localhost" or re.search(r"[.:]", first) or first.lower() != first:
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    return domain, path, tag, digest
