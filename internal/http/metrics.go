package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the server's Prometheus collectors in a registry of its own.
type Metrics struct {
	Registry      *prometheus.Registry
	verifications map[latchkey.VerifyCode]prometheus.Counter
	verifyLatency prometheus.Histogram
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
}

func newMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "latchkey_verifications_total",
		Help: "Key verifications by result code.",
	}, []string{"code"})
	m.verifications = make(map[latchkey.VerifyCode]prometheus.Counter, len(latchkey.VerifyCodes))
	for _, c := range latchkey.VerifyCodes {
		m.verifications[c] = vec.WithLabelValues(string(c))
	}
	m.verifyLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "latchkey_verify_duration_seconds",
		Help:    "Time to answer a verification, from body read to answer.",
		Buckets: []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2},
	})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "latchkey_http_requests_total",
		Help: "HTTP requests by route and status.",
	}, []string{"route", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "latchkey_http_request_duration_seconds",
		Help:    "HTTP request duration by route.",
		Buckets: prometheus.ExponentialBuckets(1e-5, 4, 10),
	}, []string{"route"})
	m.Registry.MustRegister(vec, m.verifyLatency, m.requests, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) observeVerify(code latchkey.VerifyCode, d time.Duration) {
	if c, ok := m.verifications[code]; ok {
		c.Inc()
	}
	m.verifyLatency.Observe(d.Seconds())
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts requests of a route by status and times them.
func (m *Metrics) instrument(route string, h http.Handler) http.Handler {
	hist := m.duration.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		hist.Observe(time.Since(start).Seconds())
	})
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
