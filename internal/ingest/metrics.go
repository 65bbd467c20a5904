package ingest

import "github.com/prometheus/client_golang/prometheus"

// metrics are the pipeline's Prometheus metrics. None has a label whose
// values come from senders.
type metrics struct {
	depth             prometheus.Gauge
	capacity          prometheus.Gauge
	appendDuration    prometheus.Histogram
	commitEvents      prometheus.Histogram
	appendErrors      prometheus.Counter
	droppedProperties prometheus.Counter
	tailSubscribers   prometheus.Gauge
	tailDropped       prometheus.Counter
}

func newMetrics(capacity int) metrics {
	m := metrics{
		depth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weir_event_queue_events",
			Help: "Events queued or being stored by the intake."}),
		capacity: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weir_event_queue_capacity_events",
			Help: "The intake queue's bound, in events; beyond it batches get 429."}),
		appendDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "weir_event_store_append_duration_seconds",
			Help: "Time of one group commit of event batches to the store.", Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12)}),
		commitEvents: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "weir_event_store_append_events",
			Help: "Events stored per group commit.", Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		appendErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "weir_event_store_append_errors_total",
			Help: "Group commits of event batches that failed; every batch in them was refused."}),
		droppedProperties: prometheus.NewCounter(prometheus.CounterOpts{Name: "weir_event_properties_dropped_total",
			Help: "Track-event properties not stored: not allow-listed by the environment, or private attributes."}),
		tailSubscribers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weir_event_tail_subscribers",
			Help: "Open event tails (GET /api/v1/environments/{env}/events/tail)."}),
		tailDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "weir_event_tail_dropped_total",
			Help: "Events not delivered to a tail whose reader fell behind."}),
	}
	m.capacity.Set(float64(capacity))
	return m
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.depth, m.capacity, m.appendDuration, m.commitEvents, m.appendErrors,
		m.droppedProperties, m.tailSubscribers, m.tailDropped} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}
