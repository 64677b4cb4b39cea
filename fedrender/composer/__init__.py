"""Composition: rendered templates plus a placement become the objects the Karmada control plane receives."""
