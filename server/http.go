package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// startHTTP serves /metrics, /healthz and /readyz on the metrics-addr
// directive's address, if set. The server goroutine is owned by s and
// stopped by Close (stopHTTP).
func (s *Server) startHTTP() error {
	addr, err := metricsListenAddr(s.cfg.MetricsAddr, s.cfg.Port)
	if addr == "" || err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	if err := s.NewMetrics(reg); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil && s.cfg.MetricsAddr != addr { // derived: say from what
		err = fmt.Errorf("%w (metrics-addr %q with port %d: set metrics-addr host:port)", err, s.cfg.MetricsAddr, s.cfg.Port)
	}
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", s.readyz)
	s.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.httpAddr = ln.Addr().String()
	s.log.Info("metrics listening", "addr", s.httpAddr)
	s.httpWG.Add(1)
	go func() {
		defer s.httpWG.Done()
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server", "error", err)
		}
	}()
	return nil
}

// metricsPortOffset derives the metrics port from the client port when
// metrics-addr names only a host: 6379 + 2742 = 9121, the port Redis
// exporters use, and nodes on consecutive ports get consecutive ports.
const metricsPortOffset = 2742

// metricsListenAddr resolves the metrics-addr directive: "" disables metrics,
// host:port is used as given, a host alone gets port+metricsPortOffset (a
// free port when port is 0).
func metricsListenAddr(dir string, port int) (string, error) {
	if dir == "" {
		return "", nil
	}
	if _, _, err := net.SplitHostPort(dir); err == nil {
		return dir, nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(dir, "["), "]")
	if port == 0 {
		return net.JoinHostPort(host, "0"), nil
	}
	mp := port + metricsPortOffset
	if mp > 65535 {
		return "", fmt.Errorf("metrics port %d+%d is above 65535: set metrics-addr host:port", port, metricsPortOffset)
	}
	return net.JoinHostPort(host, strconv.Itoa(mp)), nil
}

// readyz answers 200 once the node serves clients: listening, and in
// cluster mode, having reached its seeds (if it has any) and holding slots
// in the slot table. Otherwise 503 with the reason. It reads two atomics
// and, in cluster mode, walks the slot table once (16384 lookups).
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if why := s.notReady(); why != "" {
		http.Error(w, "not ready: "+why+"\n", http.StatusServiceUnavailable)
		return
	}
	if s.cl != nil && s.cl.down() {
		http.Error(w, "not ready: cluster state "+s.cl.stateName()+"\n", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// notReady returns why the node is not ready, or "".
func (s *Server) notReady() string {
	if s.closing() {
		return "shutting down"
	}
	if len(s.lns) == 0 {
		return "not listening"
	}
	if s.cl == nil {
		return ""
	}
	n := s.cl.node.Load()
	if n == nil {
		return "cluster node not started"
	}
	if !n.Joined() {
		return "cluster seeds not reached yet"
	}
	if s.cl.down() {
		return "cluster state " + s.cl.stateName()
	}
	v := s.cl.view.Load()
	if v == nil || v.self < 0 || v.servedSlots() == 0 {
		return "holds no slots yet"
	}
	return ""
}

// stopHTTP closes the HTTP server and waits for its goroutine.
func (s *Server) stopHTTP() {
	if s.httpSrv != nil {
		_ = s.httpSrv.Close()
	}
	s.httpWG.Wait()
}

// MetricsAddr returns the address the HTTP metrics server listens on ("" if none).
func (s *Server) MetricsAddr() string { return s.httpAddr }
