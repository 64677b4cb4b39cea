"""fedrender: render MultiCloudMongoDB specs into deterministic Karmada manifests for GitOps."""

__version__ = "0.1.0"
