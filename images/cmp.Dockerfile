# syntax=docker/dockerfile:1
# fedrender-cmp: the fedrender CLI as an Argo CD Config Management Plugin sidecar of argocd-repo-server
# (gitops/cmp-plugin.yaml). Build from the repository root: `make image`.
#
# Argo CD starts the sidecar with its own /var/run/argocd/argocd-cmp-server (from the repo-server's var-files
# volume) and mounts the plugin configuration at /home/argocd/cmp-server/config/plugin.yaml; the image only
# brings fedrender and a shell. It runs as uid 999, the user Argo CD's documentation gives sidecars.
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY fedrender ./fedrender
COPY reconciler ./reconciler
COPY rules ./rules
COPY schemas ./schemas
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir --no-index --find-links /wheels fedrender \
    && rm -rf /wheels \
    && groupadd --gid 999 argocd && useradd --uid 999 --gid 999 --home-dir /home/argocd --create-home argocd
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 999:999
WORKDIR /home/argocd
