#!/bin/sh
# Builds the release binary of cached: static (CGO_ENABLED=0, no libc, runs
# on scratch/distroless), -trimpath (no build paths inside), stripped, with
# the commit stamped in (`cached --version` prints it).
#
#   scripts/build-static.sh [OUTPUT]        (default ./cached)
#
# The Dockerfile runs exactly this script; CI runs it too and checks that
# the result is a static ELF (deploy/check). COMMIT overrides the commit
# (the Docker build passes it as a build argument, since .git is not in the
# build context).
set -eu
out=${1:-cached}
commit=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}
CGO_ENABLED=0 go build -trimpath -buildvcs=false \
  -ldflags "-s -w -X main.commit=${commit:-unknown}" \
  -o "$out" ./cmd/cached
