#!/usr/bin/env bash
# Makes a stand-in for python:3.11-slim-bookworm without Docker Hub, from Debian's own apt
# mirror: a minimal bookworm root (its python3 is 3.11) imported as a Docker image. Then
#   docker build --build-arg PYTHON_IMAGE=riskwatch-base/python:3.11-bookworm -t riskwatch:0.1.0 .
# Needs root (debootstrap, chroot) and a running Docker daemon.
#   deploy/build-base-image.sh [image-tag] [mirror]
set -euo pipefail

TAG=${1:-riskwatch-base/python:3.11-bookworm}
MIRROR=${2:-http://deb.debian.org/debian}
ROOT=$(mktemp -d /tmp/riskwatch-base.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
# mktemp's 0700 would become the image's / and lock out the Dockerfile's user 10001.
chmod 755 "$ROOT"

command -v debootstrap >/dev/null || apt-get install -y debootstrap
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR"
# python-is-python3: the Dockerfile calls `python` as the official image allows; python3-venv:
# Debian splits ensurepip out, and the builder stage makes its virtualenv with `python -m venv`.
chroot "$ROOT" apt-get install -y --no-install-recommends \
    python3 python3-venv python-is-python3 ca-certificates
# As Docker Hub's Debian images do: apt keeps no package cache (75 MB of *.bin per layer that
# runs apt-get) and no .debs; the Dockerfile runs `apt-get update` itself.
cat > "$ROOT/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
APT
chroot "$ROOT" apt-get clean
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin
# docker import sets no ENV: the Dockerfile puts its virtualenv in front of PATH, so PATH must
# be there (as in the official image), and LANG as the official image sets it.
tar -C "$ROOT" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$TAG"
docker image ls "$TAG"
