# One image recipe for every SIKS-NG Python process (the four services and the stand-ins).
# Pick the workspace member with build args, e.g.
#   docker build --build-arg PACKAGE=siks-registry --build-arg MODULE=siks_registry -t siks/registry:dev .
# docker-compose.yml sets these per service.
#
# Only Docker Hub official images are assumed, so uv comes from PyPI (pinned to the version
# that wrote uv.lock's format) rather than from the ghcr.io uv image.

ARG PYTHON_IMAGE=python:3.11-slim

# --------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ARG PACKAGE=siks-registry
ARG UV_VERSION=0.13.9

RUN pip install --no-cache-dir "uv==${UV_VERSION}"

# Use the image's own CPython (never a uv-downloaded one): the runtime stage has the same
# interpreter at the same path, so the venv's symlinks stay valid after the copy.
# Copy (not hardlink) from the cache, and precompile bytecode for a faster start.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Layer 1: third-party dependencies only. uv needs the lock file and every workspace member's
# pyproject.toml to resolve the workspace, but none of the source, so this layer is reused
# until a pyproject.toml or uv.lock changes.
COPY pyproject.toml uv.lock ./
COPY contracts/pyproject.toml contracts/pyproject.toml
COPY kit/pyproject.toml kit/pyproject.toml
COPY services/registry/pyproject.toml services/registry/pyproject.toml
COPY services/verification/pyproject.toml services/verification/pyproject.toml
COPY services/integration/pyproject.toml services/integration/pyproject.toml
COPY services/decree/pyproject.toml services/decree/pyproject.toml
COPY deploy/standins/pyproject.toml deploy/standins/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "${PACKAGE}"

# Layer 2: the workspace itself. --frozen: install exactly what uv.lock says, never re-lock.
# --no-editable: install the members into site-packages so the venv works without /app's
# sources, and only the venv goes into the runtime stage.
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "${PACKAGE}"

# --------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

ARG PACKAGE=siks-registry
ARG MODULE=siks_registry

# Unprivileged user with a fixed uid/gid, so volume permissions are predictable.
RUN groupadd --system --gid 10001 siks \
 && useradd --system --uid 10001 --gid siks --home-dir /app --no-create-home --shell /usr/sbin/nologin siks

WORKDIR /app
COPY --from=builder --chown=siks:siks /app/.venv /app/.venv

# ARG values are not visible to CMD at run time; keep the module in the environment.
ENV PATH="/app/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SIKS_PACKAGE=${PACKAGE} \
    SIKS_MODULE=${MODULE} \
    SIKS_HOST=0.0.0.0

USER siks:siks

# Informational only; each service's real port comes from SIKS_PORT (SIKS_STANDINS_PORT for
# the stand-ins), see docker-compose.yml.
EXPOSE 8001 8002 8003 8004 8010

# The healthcheck is defined per service in docker-compose.yml (each on its own port, with
# python's urllib since the slim image has no curl).

# `exec` replaces the shell, so python is PID 1 and receives SIGTERM itself: uvicorn's handler
# runs the lifespan shutdown (outbox relay, Kafka consumers) on `docker stop`.
CMD ["sh", "-c", "exec python -m \"$SIKS_MODULE\""]
