"""Facts about Karmada's API that several layers need."""

from __future__ import annotations

# Where each kind keeps the pod spec whose containers an imageOverrider without predicate rewrites
# (karmada pkg/util/overridemanager/imageoverride.go); other kinds are left alone.
POD_SPEC = {"Pod": "/spec", "ReplicaSet": "/spec/template/spec", "Deployment": "/spec/template/spec",
            "DaemonSet": "/spec/template/spec", "StatefulSet": "/spec/template/spec", "Job": "/spec/template/spec"}
