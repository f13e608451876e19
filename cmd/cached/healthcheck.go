package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheckTimeout bounds one health probe, connection and reply.
const healthcheckTimeout = 3 * time.Second

// healthcheck is the `cached healthcheck [--ready] [config args]` mode for
// container images without curl (Dockerfile HEALTHCHECK). It reads the same
// configuration as a node (a config file and/or --directive value pairs),
// GETs /healthz (or /readyz with --ready) on the node's metrics-addr and
// returns 0 on 200 OK, 1 otherwise. A wildcard bind host (0.0.0.0, ::, or
// none) is probed on the loopback address.
func healthcheck(args []string, stdout, stderr io.Writer) int {
	path := "/healthz"
	if len(args) > 0 && args[0] == "--ready" {
		path, args = "/readyz", args[1:]
	}
	cfg, act, err := parseArgs(args)
	if err == nil && act != actionRun {
		err = errors.New("healthcheck takes a config file and directives, not --help or --version")
	}
	if err != nil {
		fmt.Fprintf(stderr, "cached healthcheck: %v\n", err)
		return 1
	}
	url, err := probeURL(cfg.MetricsAddr, path)
	if err == nil {
		err = probe(url)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cached healthcheck: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ok %s\n", url)
	return 0
}

// probeURL turns a metrics-addr into the URL of path on it.
func probeURL(addr, path string) (string, error) {
	if addr == "" {
		return "", errors.New("metrics-addr is empty: the node serves no /healthz")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("metrics-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}

// probe GETs url and wants 200 OK.
func probe(url string) error {
	client := &http.Client{Timeout: healthcheckTimeout}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
