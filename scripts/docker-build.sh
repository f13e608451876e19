#!/usr/bin/env bash
# Builds the cached container image and tries it, where a Docker engine runs
# (CI here has none; it builds the same static binary instead, see
# deploy/check). Run from anywhere:
#
#   scripts/docker-build.sh            build cached:dev, run it, wait for its
#                                      HEALTHCHECK to say healthy, PING it,
#                                      print the image size, remove it
#   scripts/docker-build.sh compose    also start deploy/compose.yaml (3 nodes,
#                                      Prometheus, Grafana), check every node
#                                      is healthy and Prometheus scrapes all
#                                      three, then stop it (KEEP=1 keeps it)
#
# IMAGE=name:tag changes the tag (default cached:dev).
set -euo pipefail
cd "$(dirname "$0")/.."
image=${IMAGE:-cached:dev}
command -v docker >/dev/null || { echo "docker is not installed" >&2; exit 1; }

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
docker build --build-arg COMMIT="$commit" -t "$image" .
echo "image $image: $(docker image inspect -f '{{.Size}}' "$image") bytes"
docker run --rm "$image" --version

# wait_healthy CONTAINER: polls the HEALTHCHECK state for up to 60 s.
wait_healthy() {
  for _ in $(seq 60); do
    state=$(docker inspect -f '{{.State.Health.Status}}' "$1")
    [ "$state" = healthy ] && return 0
    sleep 1
  done
  echo "$1 is $state after 60 s" >&2
  docker logs "$1" >&2
  return 1
}

name=cached-try-$$
docker run -d --name "$name" -p 127.0.0.1::6379 -p 127.0.0.1::9121 "$image" >/dev/null
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
wait_healthy "$name"
port=$(docker port "$name" 6379/tcp | head -1 | sed 's/.*://')
if command -v redis-cli >/dev/null; then
  redis-cli -p "$port" SET greeting hello >/dev/null
  [ "$(redis-cli -p "$port" GET greeting)" = hello ] || { echo "GET greeting failed" >&2; exit 1; }
fi
[ "$(docker inspect -f '{{.Config.User}}' "$name")" = 65532:65532 ] || { echo "image does not run as non-root" >&2; exit 1; }
echo "container $name: healthy, answers on 127.0.0.1:$port"

[ "${1:-}" = compose ] || exit 0

compose=(docker compose -f deploy/compose.yaml)
"${compose[@]}" up -d --build
[ "${KEEP:-0}" = 1 ] || trap '"${compose[@]}" down -v; docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
for svc in cache-1 cache-2 cache-3; do
  wait_healthy "$("${compose[@]}" ps -q "$svc")"
done
# Prometheus (published on 127.0.0.1:9090) must see three healthy targets.
for _ in $(seq 60); do
  up=$(curl -fsS 'http://127.0.0.1:9090/api/v1/query?query=sum(up{job="cached"})' | sed -n 's/.*"value":\[[^,]*,"\([0-9]*\)".*/\1/p')
  [ "$up" = 3 ] && break
  sleep 2
done
[ "$up" = 3 ] || { echo "Prometheus sees $up cached targets up, want 3" >&2; exit 1; }
echo "compose: 3 nodes healthy, Prometheus scrapes all 3; Grafana on http://127.0.0.1:3000 (admin/admin)"
