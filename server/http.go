package server

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// startHTTP serves /metrics, /healthz and /readyz on the metrics-addr
// directive's address, if set. The server goroutine is owned by s and
// stopped by Close (stopHTTP).
func (s *Server) startHTTP() error {
	addr := s.cfg.MetricsAddr
	if addr == "" {
		return nil
	}
	reg := prometheus.NewRegistry()
	if err := s.NewMetrics(reg); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
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

// readyz answers 200 while the node serves clients; a cluster node must
// also have joined (when it has seeds) and be in cluster_state ok.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	s.closeMu.Lock()
	closed := s.isClosed
	s.closeMu.Unlock()
	if closed || len(s.lns) == 0 {
		http.Error(w, "not ready\n", http.StatusServiceUnavailable)
		return
	}
	if s.cl != nil && s.cl.down() {
		http.Error(w, "not ready: cluster state "+s.cl.stateName()+"\n", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
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
