# syntax=docker/dockerfile:1
# fedrender-reconciler: the in-cluster reconciler, one Deployment per member cluster
# (rules/mongodb/platform/deployment.yaml). Build from the repository root: `make image`.
#
# Stage 1 builds the wheel from the sources; stage 2 installs that wheel and nothing else, and runs as
# uid/gid 65532 (the Deployment's runAsUser) on a read-only root filesystem: nothing is written at run time,
# bytecode is compiled at install time.
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
    && rm -rf /wheels
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["fedrender-reconciler"]
