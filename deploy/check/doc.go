// Package check validates cached's deployment files offline, as CI runs
// them (.ci/run): the Dockerfile and the static binary it builds, the
// docker compose stack (compose-spec's Go library), the Kubernetes
// manifests (strict decoding into the Kubernetes API's Go types plus
// checks that probes, selectors, resources and the autoscaler fit cached),
// and the systemd unit (systemd-analyze verify where present, and its keys).
//
// It is a module of its own so that its dependencies stay out of cached's.
// Run it from this directory:
//
//	go test -count=1 ./...
package check
