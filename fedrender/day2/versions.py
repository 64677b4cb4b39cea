"""MongoDB version upgrades and downgrades, and the featureCompatibilityVersion: pure decisions over (what the
spec asks, what the previous render rendered, what the observed state shows).

The rules follow the MongoDB manual:

* "Upgrade a Self-Managed Replica Set to 8.0" (and to 7.0, 6.0, 5.0): a replica set upgrades one release at a
  time, every member's binary first, then ``setFeatureCompatibilityVersion`` to the new release; before the
  binaries change, the featureCompatibilityVersion must be the current release ("the replica set's
  featureCompatibilityVersion must be set to 7.0" before an upgrade to 8.0). A binary does not start on data
  whose featureCompatibilityVersion is two releases back (mongod logs "UPGRADE PROBLEM: Found an invalid
  featureCompatibilityVersion document" and exits).
* ``setFeatureCompatibilityVersion`` ("version" field): a binary accepts its own release or the one before.
* "Downgrade 6.0 to 5.0" (and older): the featureCompatibilityVersion comes down first, then the binaries.
* "Downgrade 7.0 to 6.0" and ``setFeatureCompatibilityVersion``, "Downgrade Policy Changes in MongoDB 7.0":
  "Starting in MongoDB 7.0, you cannot downgrade your deployment's binary version without assistance from
  support"; only the featureCompatibilityVersion may come down.

The release train is 4.4, 5.0, 6.0, 7.0, 8.0 (long-term releases; rapid releases such as 7.1 are refused; a
change from or to a release before 4.4, past its end of life, renders unchecked with a warning: FedState's
default image is mongo:3.6).
A render that skips a release, or changes the image's release and the featureCompatibilityVersion at once, is
refused with the supported path spelled out. A one-release upgrade is **held** (the previous image is rendered
again) until a usable observation shows the featureCompatibilityVersion at the current release and no change
half-done; a downgrade waits for the lower featureCompatibilityVersion the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fedrender.models import names

RELEASES = ("4.4", "5.0", "6.0", "7.0", "8.0")
"""MongoDB's long-term releases, oldest first: an upgrade or downgrade moves one step along it."""
SUPPORT_FROM = "7.0"
"""From this release on, a binary downgrade needs MongoDB support (manual, "Downgrade 7.0 to 6.0")."""
UPGRADE_PAGE = "MongoDB manual 'Upgrade a Self-Managed Replica Set to {release}'"


@dataclass(frozen=True)
class Request:
    """What this render's inputs ask for: the image's release (``""`` unknown), the image, the requested
    featureCompatibilityVersion (``""`` none) and where that was asked (``fcv_source``, for messages)."""

    version: str
    image: str
    fcv: str = ""
    fcv_source: str = ""


@dataclass(frozen=True)
class Before:
    """What the previous render rendered (the state): release, image and featureCompatibilityVersion."""

    version: str
    image: str
    fcv: str = ""


@dataclass(frozen=True)
class Seen:
    """The observed featureCompatibilityVersion (``status.featureCompatibilityVersion``), the change half-done
    (``status.fcvTargetVersion``) and whether the observation counts (``fedrender.day2.observe``)."""

    usable: bool = False
    fcv: str = ""
    target: str = ""


@dataclass(frozen=True)
class Problem:
    """A refusal, located at the image (``image``) or where the featureCompatibilityVersion is asked (``fcv``)."""

    at: Literal["image", "fcv"]
    message: str


@dataclass(frozen=True)
class Decision:
    """What to render: ``version``, ``image`` and ``fcv``; ``held`` when the image is the previous render's while
    an upgrade or downgrade waits (``waiting`` says for what); ``problems`` refuse the render."""

    version: str
    image: str
    fcv: str
    held: bool = False
    problems: tuple[Problem, ...] = ()
    waiting: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    needs_observation: bool = field(default=False)
    """``waiting`` needs a usable observed state: say why the snapshot's is not (``observe.waiting``)."""


def step(version: str, by: int) -> str:
    """The release ``by`` steps along the train from ``version`` ("" off the train or past its ends)."""
    if version not in RELEASES:
        return ""
    index = RELEASES.index(version) + by
    return RELEASES[index] if 0 <= index < len(RELEASES) else ""


def later(a: str, b: str) -> bool:
    """Whether release ``a`` is after release ``b`` (both ``major.minor``)."""
    return _key(a) > _key(b)


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2] if part.isdigit())


def with_tag(image: str, release: str) -> str:
    """``image`` with the tag ``release`` (its digest dropped): the image a step of the path names."""
    name, _, _ = names.split_image(image)
    return f"{name.removeprefix('docker.io/library/')}:{release}"


def allowed_fcvs(version: str) -> tuple[str, ...]:
    """The featureCompatibilityVersions a ``version`` binary accepts (manual, setFeatureCompatibilityVersion)."""
    return tuple(v for v in (version, step(version, -1)) if v)


def upgrade_path(image: str, current: str, fcv: str, target: str) -> str:
    """The supported path from release ``current`` (featureCompatibilityVersion ``fcv`` asked) to ``target``."""
    steps = [] if fcv == current else [f"featureCompatibilityVersion {current}",
                                       f"wait until the status shows featureCompatibilityVersion {current}"]
    release = current
    while release != target:
        release = step(release, 1)
        steps += [f"image {with_tag(image, release)}", f"wait until the status shows every member on {release}",
                  f"featureCompatibilityVersion {release}"]
        if release != target:
            steps.append(f"wait until the status shows featureCompatibilityVersion {release}")
    return "; ".join(steps)


def decide(request: Request, before: Before | None, seen: Seen) -> Decision:
    """The release, image and featureCompatibilityVersion to render for one instance, or why not.

    ``before`` is None for a new instance (nothing to move from). A ``before.version`` of "" (a state from
    before versions were recorded, or a digest-only image) or a ``request.version`` of "" cannot be judged:
    the render goes on with a warning that upgrade checks cannot run."""
    wanted, old = request.version, before.version if before else ""
    warnings: list[str] = []
    if request.fcv and request.fcv not in RELEASES:
        return Decision(wanted, request.image, request.fcv, problems=(Problem("fcv", (
            f"featureCompatibilityVersion {request.fcv!r} ({request.fcv_source}) is not a MongoDB release "
            f"fedrender knows ({', '.join(RELEASES)})")),))
    if not wanted:
        warnings.append(f"the image {request.image} names no MongoDB release (no tag, or a tag such as latest or "
                        "8 that names none): version upgrade checks cannot run; use a tag such as "
                        f"{with_tag(request.image, RELEASES[-1])}")
    if wanted and wanted not in RELEASES and wanted != old and later(wanted, RELEASES[0]):
        return Decision(wanted, request.image, request.fcv, problems=(Problem("image", (
            f"MongoDB {wanted} ({request.image}) is a rapid release, which fedrender does not support (it knows the "
            f"upgrade path of the long-term releases {', '.join(RELEASES)})")),))
    if before is not None and old in RELEASES and wanted and later(RELEASES[0], wanted):
        return Decision(wanted, request.image, request.fcv, problems=(Problem("image", (
            f"MongoDB {wanted} ({request.image}) is older than {RELEASES[0]}: a {wanted} binary cannot start on the "
            f"{old} set's data (manual, \"Downgrade\" pages: one release at a time, featureCompatibilityVersion "
            f"first, and from 7.0 on only with MongoDB support); keep {with_tag(request.image, old)}, or restore a "
            "backup into a new instance")),))
    if before is not None and old and wanted and wanted != old and not {old, wanted} <= set(RELEASES):
        warnings.append(f"fedrender cannot check the change from MongoDB {old} to {wanted}: it knows the upgrade "
                        f"path of {', '.join(RELEASES)} only; follow the MongoDB manual's upgrade pages release by "
                        "release")
    if before is None or not old or not wanted or wanted == old or not {old, wanted} <= set(RELEASES):
        if before is not None and not old and before.image and before.image != request.image:
            warnings.append(f"the previous render recorded no MongoDB release for its image {before.image}: this "
                            "change is not checked; upgrade checks run from the next change on")
        return _fcv_checked(Decision(wanted, request.image, request.fcv, warnings=tuple(warnings)), request)
    return _fcv_checked(_move(request, before, seen), request)


def _move(request: Request, before: Before, seen: Seen) -> Decision:
    """A change of release from ``before.version`` to ``request.version`` (both on the train)."""
    old, wanted = before.version, request.version
    distance = RELEASES.index(wanted) - RELEASES.index(old)
    image = request.image
    hold = Decision(old, before.image, request.fcv, held=True)
    if distance > 1:
        nxt = step(old, 1)
        return Decision(wanted, image, request.fcv, problems=(Problem("image", (
            f"MongoDB upgrades one release at a time: {old} -> {wanted} skips "
            f"{', '.join(RELEASES[RELEASES.index(old) + 1:RELEASES.index(wanted)])} "
            f"({UPGRADE_PAGE.format(release=nxt)}: every member runs {old} and featureCompatibilityVersion is "
            f"{old} first). Path: {upgrade_path(image, old, request.fcv, wanted)}")),))
    if distance < -1:
        return Decision(wanted, image, request.fcv, problems=(Problem("image", (
            f"MongoDB downgrades one release at a time: {old} -> {wanted} skips "
            f"{', '.join(RELEASES[RELEASES.index(wanted) + 1:RELEASES.index(old)])}")),))
    both = request.fcv != before.fcv
    if distance < 0 and not later(SUPPORT_FROM, old):
        return Decision(wanted, image, request.fcv, problems=(Problem("image", (
            f"MongoDB {old} binaries cannot be downgraded to {wanted} by fedrender: from {SUPPORT_FROM} on, a "
            "binary downgrade needs assistance from MongoDB support (MongoDB manual 'Downgrade 7.0 to 6.0', and "
            "setFeatureCompatibilityVersion 'Downgrade Policy Changes in MongoDB 7.0'). Keep the image at "
            f"{with_tag(before.image or image, old)}; only featureCompatibilityVersion may come down, to "
            f"{step(old, -1)}")),))
    # The release changes by one; the featureCompatibilityVersion it needs first: the old release on the way up
    # (the new binary starts on it), the new one on the way down (the old binary cannot start on a newer one).
    needed = old if distance > 0 else wanted
    direction = "upgrade" if distance > 0 else "downgrade"
    if distance < 0 and request.fcv != wanted:
        return Decision(wanted, image, request.fcv, problems=(Problem("image", (
            f"a downgrade from {old} to {wanted} lowers featureCompatibilityVersion first (MongoDB manual "
            f"'Downgrade {old} to {wanted}'): set featureCompatibilityVersion {wanted} ({request.fcv_source}) "
            f"and keep the image at {with_tag(before.image or image, old)}; once the status shows "
            f"featureCompatibilityVersion {wanted}, change the image")),))
    ready = seen.usable and seen.fcv == needed and not seen.target
    if not ready:
        if not before.image:
            return Decision(wanted, image, request.fcv, problems=(Problem("image", (
                f"the {direction} to {wanted} waits for featureCompatibilityVersion {needed}, but the previous "
                "render's image is not recorded in the state, so it cannot be kept meanwhile: keep the image "
                f"at {old} until the status shows featureCompatibilityVersion {needed}")),))
        observed = seen.fcv or "unknown"
        if seen.target:
            observed += f", moving to {seen.target}"
        need = (f"the image change to {wanted} waits for featureCompatibilityVersion {needed} (observed: "
                f"{observed})")
        if request.fcv != needed:
            need += f"; ask for it first: featureCompatibilityVersion {needed} ({request.fcv_source})"
        return Decision(hold.version, hold.image, hold.fcv, True, waiting=(need,),
                        needs_observation=not seen.usable)
    if both:
        order = (f"the image first, then featureCompatibilityVersion once the status shows every member on {wanted}"
                 if distance > 0 else "featureCompatibilityVersion first, then the image")
        return Decision(wanted, image, request.fcv, problems=(Problem("image", (
            f"this render changes the image ({old} -> {wanted}) and featureCompatibilityVersion "
            f"({before.fcv or 'none'} -> {request.fcv or 'none'}, {request.fcv_source}) at once; change one at a "
            f"time: {order}")),))
    return Decision(wanted, image, request.fcv, allowed=(
        f"the image change to {wanted}: the observed featureCompatibilityVersion is {needed}",))


def _fcv_checked(decision: Decision, request: Request) -> Decision:
    """Refuse a featureCompatibilityVersion the rendered binary does not accept (its release or the one before;
    manual, setFeatureCompatibilityVersion)."""
    if decision.problems or not request.fcv or not decision.version:
        return decision
    accepted = allowed_fcvs(decision.version)
    if request.fcv in accepted:
        return decision
    if later(request.fcv, decision.version):
        why = (f"every member must run {request.fcv} first: change the image to "
               f"{with_tag(request.image, request.fcv)}, wait until the status shows every member on it, then ask "
               "for it")
    else:
        why = f"it comes down one release at a time, to {accepted[-1]} at most on these binaries"
    return Decision(decision.version, decision.image, decision.fcv, decision.held, (Problem("fcv", (
        f"featureCompatibilityVersion {request.fcv} ({request.fcv_source}) cannot be set on MongoDB "
        f"{decision.version} binaries, which accept {' or '.join(accepted)} (MongoDB manual, "
        f"setFeatureCompatibilityVersion); {why}")),), decision.waiting, decision.allowed, decision.warnings,
                    decision.needs_observation)
