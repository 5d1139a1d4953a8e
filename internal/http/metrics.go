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

// serverMetrics holds the server's Prometheus collectors in a registry of its own.
type serverMetrics struct {
	Registry      *prometheus.Registry
	verifications map[latchkey.VerifyCode]prometheus.Counter
	verifyLatency prometheus.Histogram
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
}

// newMetrics registers the server's collectors: verifications, latency,
// requests by route, the change feed and Redis.
func newMetrics(feed func() latchkey.FeedStatus, redisUp func() bool) *serverMetrics {
	m := &serverMetrics{Registry: prometheus.NewRegistry()}
	if redisUp != nil {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "latchkey_redis_up",
			Help: "1 while Redis answers; 0 while limits are counted by this instance alone (or refused, failing closed).",
		}, func() float64 { return boolGauge(redisUp()) }))
	}
	if feed != nil {
		gauge := func(name, help string, f func(latchkey.FeedStatus) float64) prometheus.Collector {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(feed()) })
		}
		counter := func(name, help string, f func(latchkey.FeedStatus) float64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(feed()) })
		}
		m.Registry.MustRegister(
			gauge("latchkey_feed_connected", "1 while the change feed hears other instances' key changes.",
				func(f latchkey.FeedStatus) float64 { return boolGauge(f.Connected) }),
			gauge("latchkey_feed_last_sequence", "Number of the last key change this instance applied.",
				func(f latchkey.FeedStatus) float64 { return float64(f.Applied) }),
			gauge("latchkey_feed_lag_changes", "Key changes the store has that this instance has not applied yet.",
				func(f latchkey.FeedStatus) float64 { return float64(max(f.Head-f.Applied, 0)) }),
			gauge("latchkey_feed_lag_seconds", "Seconds since the store last answered on the change feed's connection.",
				func(f latchkey.FeedStatus) float64 {
					if f.LastHeard.IsZero() {
						return 0
					}
					return time.Since(f.LastHeard).Seconds()
				}),
			counter("latchkey_feed_replays_total", "Catch-ups that applied key changes from the change log.",
				func(f latchkey.FeedStatus) float64 { return float64(f.Replays) }),
			counter("latchkey_feed_cache_drops_total", "Times the change log no longer reached back and every cached key was dropped.",
				func(f latchkey.FeedStatus) float64 { return float64(f.CacheDrops) }),
		)
	}
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

// boolGauge is 1 for true, 0 for false.
func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// observeVerify counts one verification by its code and its latency.
func (m *serverMetrics) observeVerify(code latchkey.VerifyCode, d time.Duration) {
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

// WriteHeader records the first status written.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records 200 when the handler wrote a body without a status.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts requests of a route by status and times them.
func (m *serverMetrics) instrument(route string, h http.Handler) http.Handler {
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

func (m *serverMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
