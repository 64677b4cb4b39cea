"""The featureCompatibilityVersion: when the primary's reconciler sets it. Pure.

MongoDB manual, ``setFeatureCompatibilityVersion`` and "Upgrade a Self-Managed Replica Set to 8.0":

* the command runs on the primary, against ``admin``; it waits for a majority (``writeConcern: {w:
  "majority"}``, which the server applies anyway);
* a binary accepts its own release or the one before (8.0: "8.0" or "7.0");
* an upgrade waits until every member runs the new binary: the FCV document replicates to every member, and a
  binary older than it does not start on it;
* from 7.0 on the command needs ``confirm: true`` (without it the server refuses, code 7369100); a 6.0 server
  refuses the field as unknown (40415), so it is sent only to a 7.0 or later primary;
* while a change is half-done (``getParameter`` shows a ``targetVersion``), it is finished by running the same
  command again.

fedrender never sets an FCV on its own: only ``spec.featureCompatibilityVersion`` (a person asked for it in Git)
makes it act, and only when the replica set configuration matches the roster and every member is healthy.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.decide import IN_SYNC, Action, Noop, Observed, Roster

HEALTHY = {"PRIMARY", "SECONDARY", "ARBITER"}
CONFIRM_FROM = (7, 0)
"""From this release on ``setFeatureCompatibilityVersion`` needs ``confirm: true``."""
PREVIOUS = {(5, 0): (4, 4), (6, 0): (5, 0), (7, 0): (6, 0), (8, 0): (7, 0)}
"""The release before each long-term release: the lowest featureCompatibilityVersion its binary accepts."""


@dataclass(frozen=True)
class SetFeatureCompatibilityVersion(Action):
    """``setFeatureCompatibilityVersion: version`` on the primary (``confirm: true`` when ``confirm``)."""

    version: str
    confirm: bool


def release(version: str) -> tuple[int, int] | None:
    """(major, minor) of a version ("7.0.14" -> (7, 0)), None when it has none."""
    parts = version.split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].split("-")[0].isdigit():
        return None
    return int(parts[0]), int(parts[1].split("-")[0])


def feature_compatibility(roster: Roster, observed: Observed, action: Action) -> Action:
    """``action`` (what membership wants), or, once the configuration is in sync with the roster, the step
    towards ``roster.fcv``: SetFeatureCompatibilityVersion, or Noop with what it waits for. Only called by the
    reconciler that sees the primary in its own cluster (``decide.next_action``)."""
    if not roster.fcv or not (isinstance(action, Noop) and action.reason.startswith(IN_SYNC)):
        return action
    wanted = release(roster.fcv)
    if wanted is None:
        return Noop(f"{action.reason}; spec.featureCompatibilityVersion {roster.fcv!r} is no release: not set")
    if not observed.fcv:
        return Noop(f"{action.reason}; featureCompatibilityVersion unknown (getParameter on the primary did not "
                    "answer): not set")
    if observed.fcv == roster.fcv and not observed.fcv_target:
        return action
    if observed.fcv_target and observed.fcv_target != roster.fcv:
        return Noop(f"a featureCompatibilityVersion change from {observed.fcv} to {observed.fcv_target} is half-done "
                    f"and the roster asks for {roster.fcv}: not interfering (finish it with "
                    f"setFeatureCompatibilityVersion {observed.fcv_target}, or change the roster)")
    claim = observed.rollout.claim
    if claim is not None:  # a member restarts (reconciler/rollout.py): one change to the set at a time
        return Noop(f"waiting for the restart of {claim.host} to finish before featureCompatibilityVersion "
                    f"{roster.fcv}")
    unhealthy = sorted(m.host for m in observed.config if observed.states.get(m.host) not in HEALTHY)
    if unhealthy:
        return Noop(f"waiting for {', '.join(unhealthy)} to be healthy before featureCompatibilityVersion "
                    f"{roster.fcv}")
    primary = release(observed.binaries.get(observed.primary, ""))
    if primary is None:
        return Noop(f"waiting for the primary's binary version (buildInfo) before featureCompatibilityVersion "
                    f"{roster.fcv}")
    current = release(observed.fcv)
    if current is not None and wanted > current:
        behind = sorted(f"{m.host} ({observed.binaries.get(m.host) or 'unknown'})" for m in observed.config
                        if (release(observed.binaries.get(m.host, "")) or (0, 0)) < wanted)
        if behind:
            return Noop(f"waiting for every member to run {roster.fcv} or later before featureCompatibilityVersion "
                        f"{roster.fcv}: {', '.join(behind)}")
    if wanted > primary or (wanted < primary and wanted != PREVIOUS.get(primary)):
        return Noop(f"the primary runs {observed.binaries[observed.primary]}, which cannot take "
                    f"featureCompatibilityVersion {roster.fcv} (only its own release or the one before)")
    return SetFeatureCompatibilityVersion(
        f"set featureCompatibilityVersion {roster.fcv} (observed {observed.fcv}"
        + (f", moving to {observed.fcv_target}" if observed.fcv_target else "") + ")",
        roster.fcv, primary >= CONFIRM_FROM)


def restart_blocker(roster: Roster, observed: Observed) -> str:
    """Why no member may be restarted onto ``roster.version`` now, "" when it may: the gate the rolling restart
    applies before restarting a member whose image changes release (issue 14 §4).

    A mongod of release R starts only on data whose featureCompatibilityVersion is R or the release before it
    (manual, "Upgrade a Self-Managed Replica Set to 8.0"; on a downgrade, "Downgrade 6.0 to 5.0": the FCV comes
    down first). ``observed.fcv`` may be read on any member (the FCV document replicates); a secondary that lags
    only ever blocks a restart that would be safe, never allows an unsafe one. An unknown ``roster.version``
    ("" for a digest-only image) is not judged: the renderer warned that its checks could not run."""
    wanted = release(roster.version)
    if wanted is None:
        return ""
    current = release(observed.fcv)
    if current is None:
        return (f"featureCompatibilityVersion unknown: no member is restarted onto {roster.version} until it is "
                "read (getParameter)")
    if current == wanted or PREVIOUS.get(wanted) == current:
        return ""
    needed = PREVIOUS.get(wanted) if current < wanted else wanted
    shown = f"{needed[0]}.{needed[1]}" if needed else roster.version
    return (f"featureCompatibilityVersion {shown} first: a {roster.version} binary does not start on data of "
            f"featureCompatibilityVersion {observed.fcv}")
