"""What ``explain`` says about a rolling update (issue 14 section 3): a pure decision over the observed
``MongoReplicaSet`` and the template hash this render computed (:mod:`fedrender.composer.templatehash`).

Render restarts nothing itself: a new pod template reaches the member clusters' StatefulSets (``OnDelete``), and
the reconcilers restart the members one at a time across the set. ``explain`` says when this render starts such
a rollout (the observed roster carries another ``spec.templateHash``), and how far the observed one has come
(``status.updatedMembers``, summed by Karmada's ``AggregateStatus`` in ``rules/mongodb/platform/interpreter.yaml``).
"""

from __future__ import annotations

from fedrender.models.observed import ObservedReplicaSet


def rollout(observed: ObservedReplicaSet | None, template_hash: str) -> str:
    """One line for ``explain`` ("" when there is nothing to say): the pod template changes (the observed roster's
    hash differs from ``template_hash``; a roster without a hash, rendered before fedrender wrote one, counts as
    no change), or, for the same hash, the observed rollout is not finished (``updatedMembers`` below the
    members of ``spec.members`` that do not leave, the arbiter included)."""
    if observed is None or not template_hash or not observed.spec.templateHash:
        return ""
    before = observed.spec.templateHash
    if before != template_hash:
        return (f"the pod templates change (templateHash {before} -> {template_hash}; also when a cluster with "
                "its own override starts or stops receiving members): once it is synced, the reconcilers restart "
                "the members whose pods no longer run their StatefulSet's current revision, one at a time across "
                "the clusters, secondaries first and the primary last after a step-down, each only while every "
                "member is healthy and caught up; the MongoReplicaSet stays Progressing until every member runs it")
    status = observed.status
    staying = sum(1 for m in observed.spec.members if not m.leaving)
    if status is None or status.updatedMembers is None or status.updatedMembers >= staying:
        return ""
    return (f"rolling out: {status.updatedMembers} of {staying} members run the current pod template (observed "
            f"generation {observed.metadata.generation}, templateHash {template_hash})")
