# One image for every riskwatch process; the command picks the role, `riskwatch serve <app>` or
# `riskwatch worker <process>` with the names of riskwatch/processes.py (compose and k8s/ set
# it; the default below runs the gateway).
#
# The base of both stages is a build argument so a mirror or a locally made base can stand in
# for Docker Hub's (deploy/build-base-image.sh makes one from Debian's apt mirror): any
# bookworm with Python 3.11 that `python -m venv` works on. No `# syntax=` line: BuildKit would
# fetch that frontend from Docker Hub; the builder's own reads this file.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Stage 1 builds: a virtualenv with riskwatch and its dependencies, compilers at hand for any
# dependency without a wheel for the target platform.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
# A TLS-intercepting proxy's CA, if the build goes through one (deploy/ca-certificates/*.crt,
# none committed), for pip here only: this stage is thrown away, the final image keeps
# Debian's CAs. PIP_CERT: pip's own bundle would not know it.
COPY deploy/ca-certificates/ /usr/local/share/ca-certificates/
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
       ca-certificates \
    && update-ca-certificates && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from the metadata alone, so a code change reuses this layer.
COPY pyproject.toml README.md ./
RUN mkdir -p shared services gateway riskwatch && touch shared/__init__.py \
    && pip install . && pip uninstall -y riskwatch
COPY shared ./shared
COPY services ./services
COPY gateway ./gateway
COPY riskwatch ./riskwatch
RUN pip install --no-deps . && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +

# Stage 2 runs: the same slim Python, the virtualenv, no compilers, no source tree, no pip
# cache; a user without privileges; nothing written to the image's filesystem at run time
# (k8s mounts it read-only with /tmp as an emptyDir).
FROM ${PYTHON_IMAGE}
# libgomp1: LightGBM's OpenMP runtime (scoring's tree models).
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
       riskwatch
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    RISKWATCH_HOST=0.0.0.0
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000 8001 8002 8003 8004 8005
# Finds out which process its container runs (PID 1's command): an API's /healthz on its port,
# a worker's database reachable and migrated (riskwatch/healthcheck.py).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["riskwatch", "healthcheck"]
CMD ["riskwatch", "serve", "gateway"]
