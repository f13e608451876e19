#!/usr/bin/env bash
# End-to-end scale-out / scale-in of cached on a real Kubernetes cluster
# (kind, k3d or any other), driven by the HorizontalPodAutoscaler of
# deploy/k8s. It cannot run in CI (no cluster there); run it by hand:
#
#   scripts/docker-build.sh                      # builds cached:dev
#   kind create cluster --name cached            # or: k3d cluster create cached
#   (install metrics-server: the HPA needs CPU metrics; on kind add
#    --kubelet-insecure-tls to its args)
#   LOAD=kind scripts/k8s-e2e.sh                 # LOAD=k3d, or none if the
#                                                # cluster can pull $IMAGE
#
# What it does, in namespace $NS (default cached-e2e, deleted at the end
# unless KEEP=1):
#   1. kubectl apply -k deploy/k8s, image $IMAGE; wait for 3 ready pods;
#   2. writes $KEYS keys through the cached Service (proxy routing);
#   3. puts CPU load on the cluster (redis-benchmark in a client pod) until
#      the HPA has scaled the StatefulSet out (at least 4 ready pods);
#   4. checks every pod sees every member (CLUSTER INFO) and counts the
#      keys still readable;
#   5. stops the load, waits for the HPA to scale back in to 3 (its
#      scale-down window is 5 minutes, one pod per 2 minutes), checks again.
# It fails if a check fails or a key was lost (slots move with their data
# on scale-out and scale-in: README "Deploy"); ALLOW_LOSS=1 goes on to the
# later checks after missing keys.
set -euo pipefail
cd "$(dirname "$0")/.."
NS=${NS:-cached-e2e}
IMAGE=${IMAGE:-cached:dev}
KEYS=${KEYS:-10000}
LOAD=${LOAD:-none}
k() { kubectl -n "$NS" "$@"; }
log() { echo "k8s-e2e: $*"; }

# wait_for DESC SECONDS CMD...: polls CMD every 5 s until it succeeds.
wait_for() {
  local desc=$1 secs=$2; shift 2
  for ((i = 0; i < secs; i += 5)); do
    "$@" >/dev/null 2>&1 && { log "$desc: ok after ${i}s"; return 0; }
    sleep 5
  done
  log "$desc: not reached within ${secs}s"; return 1
}

ready_at_least() { [ "$(k get sts cached -o jsonpath='{.status.readyReplicas}')" -ge "$1" ]; }
ready_exactly() { [ "$(k get sts cached -o jsonpath='{.status.readyReplicas}')" -eq "$1" ] && [ "$(k get sts cached -o jsonpath='{.status.replicas}')" -eq "$1" ]; }
cli() { k exec -i client -- redis-cli -h cached "$@"; }

# check_cluster: every pod knows every member; all keys readable.
check_cluster() {
  local n ip known misses
  n=$(k get sts cached -o jsonpath='{.status.readyReplicas}')
  for ip in $(k get pods -l app.kubernetes.io/name=cached -o jsonpath='{.items[*].status.podIP}'); do
    known=$(k exec client -- redis-cli -h "$ip" CLUSTER INFO | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')
    [ "$known" = "$n" ] || { log "pod $ip knows $known nodes, want $n"; return 1; }
  done
  misses=$(seq 0 $((KEYS - 1)) | sed 's/^/GET key:/' | cli | grep -c '^$' || true)
  log "$n pods; $misses of $KEYS keys missing"
  [ "$misses" = 0 ] || [ "${ALLOW_LOSS:-0}" = 1 ]
}

case $LOAD in
  kind) kind load docker-image "$IMAGE" --name "${KIND_CLUSTER:-cached}" ;;
  k3d) k3d image import "$IMAGE" -c "${K3D_CLUSTER:-cached}" ;;
  none) ;;
  *) echo "LOAD must be kind, k3d or none" >&2; exit 2 ;;
esac
kubectl get apiservice v1beta1.metrics.k8s.io >/dev/null || { echo "metrics-server is not installed: the HPA cannot see CPU" >&2; exit 1; }

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -
[ "${KEEP:-0}" = 1 ] || trap 'kubectl delete namespace "$NS" --wait=false' EXIT
k apply -k deploy/k8s
k set image sts/cached cached="$IMAGE"
wait_for "3 ready pods" 600 ready_exactly 3
k run client --image=redis:7 --restart=Never --command -- sleep 86400
k wait --for=condition=Ready pod/client --timeout=300s

log "writing $KEYS keys"
seq 0 $((KEYS - 1)) | sed 's/.*/SET key:& v&/' | cli >/dev/null
check_cluster

log "load on: waiting for the HPA to scale out"
k exec client -- sh -c 'nohup redis-benchmark -h cached -c 100 -n 2000000000 -r 100000 -t set,get -q >/dev/null 2>&1 & echo $! >/tmp/load.pid'
wait_for "scale-out to 4+ ready pods" 900 ready_at_least 4
k get hpa cached
check_cluster

log "load off: waiting for the HPA to scale in"
k exec client -- sh -c 'kill "$(cat /tmp/load.pid)"'
wait_for "scale-in to 3 pods" 1800 ready_exactly 3
k get hpa cached
check_cluster
log "passed"
