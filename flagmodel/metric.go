package flagmodel

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MetricType says how a metric turns a unit's track events into the unit's
// value.
type MetricType string

// Metric types. Each gives every unit a value, and experiments compare the
// mean of that value over their variants' units.
const (
	// MetricConversion is 1 when the unit sent the event at least once, 0
	// otherwise: a conversion rate.
	MetricConversion MetricType = "conversion"
	// MetricMean is the sum of the values of the unit's events (0 without
	// events), compared as a mean per unit: revenue per user.
	MetricMean MetricType = "mean"
	// MetricSum is the same per-unit sum as MetricMean, for metrics read
	// as totals per unit: items bought per user.
	MetricSum MetricType = "sum"
	// MetricCount is the number of the unit's events.
	MetricCount MetricType = "count"
	// MetricRatio is the ratio of two per-unit sums (numerator and
	// denominator events), analysed with the delta method.
	MetricRatio MetricType = "ratio"
)

// MetricTypes lists every valid MetricType.
var MetricTypes = []MetricType{MetricConversion, MetricMean, MetricSum, MetricCount, MetricRatio}

// Metric is a measure of units computed from their track events. Experiments
// name metrics as primary, secondary and guardrail metrics; a metric is a
// definition only and holds no data.
type Metric struct {
	Key         string     `json:"key" yaml:"key"`
	Description string     `json:"description,omitempty" yaml:"description,omitempty"`
	Type        MetricType `json:"type" yaml:"type"`
	// Event is the name of the track event the metric is computed from
	// (every type but ratio).
	Event string `json:"event,omitempty" yaml:"event,omitempty"`
	// Numerator and Denominator name the events of a ratio metric. Each
	// side is the per-unit sum of the event's values; an event without a
	// value adds 0, so send value 1 with events that should count.
	Numerator   string `json:"numerator,omitempty" yaml:"numerator,omitempty"`
	Denominator string `json:"denominator,omitempty" yaml:"denominator,omitempty"`
	// HigherIsBetter is the direction in which the metric improves
	// (default true). It orients decisions and guardrails.
	HigherIsBetter *bool `json:"higherIsBetter,omitempty" yaml:"higherIsBetter,omitempty"`
	// ConversionWindow, when set, counts only the events within this long
	// after the unit's first exposure.
	ConversionWindow Duration `json:"conversionWindow,omitempty" yaml:"conversionWindow,omitempty"`
	// CUPED, when set, asks the analysis to reduce the metric's variance
	// with the same metric measured before each unit's first exposure.
	CUPED *CUPED `json:"cuped,omitempty" yaml:"cuped,omitempty"`
}

// CUPED configures variance reduction with a pre-exposure covariate (Deng
// et al. 2013). The covariate is always the metric itself, measured over
// Lookback before the unit's first exposure: the choice that needs no
// further data and suits most metrics.
type CUPED struct {
	Lookback Duration `json:"lookback" yaml:"lookback"`
}

// Better reports the metric's direction with its default applied.
func (m *Metric) Better() (higher bool) { return m.HigherIsBetter == nil || *m.HigherIsBetter }

// Events returns the event names the metric reads.
func (m *Metric) Events() []string {
	if m.Type == MetricRatio {
		return []string{m.Numerator, m.Denominator}
	}
	return []string{m.Event}
}

// Duration is a length of time as written in files: a whole number of days
// ("7d") or a Go duration ("36h", "90m"). It is kept as written, so files
// round-trip unchanged; Parse reads it.
type Duration string

// Parse returns the duration. An empty Duration is zero.
func (d Duration) Parse() (time.Duration, error) {
	s := string(d)
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || days == "" || days[0] == '+' {
			return 0, fmt.Errorf("%q is not a duration (write whole days like 7d, or hours like 36h)", s)
		}
		if int64(n) > math.MaxInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("%q is too long", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (write whole days like 7d, or hours like 36h)", s)
	}
	return v, nil
}

// Days writes a whole number of days as a Duration ("14d").
func Days(n int64) Duration { return Duration(strconv.FormatInt(n, 10) + "d") }

// Limits of metrics.
const (
	MaxMetrics = 10000
	// MaxEventNameLength is the longest event name the event intake
	// accepts, so that every metric can name events that can be sent.
	MaxEventNameLength = 256
	// MaxMetricWindow bounds conversion windows and CUPED lookbacks.
	MaxMetricWindow = 365 * 24 * time.Hour
)

// Validate checks one metric on its own (as the API receives it) and returns
// nil or a *ValidationError whose locations are the metric's fields.
func (m *Metric) Validate() error {
	v := &validator{f: &File{}}
	v.metric("", m)
	return v.err()
}

// metrics checks a file's metrics: keys unique, each metric valid.
func (v *validator) metrics() {
	if len(v.f.Metrics) > MaxMetrics {
		v.add("metrics", "%d metrics, above the limit of %d", len(v.f.Metrics), MaxMetrics)
	}
	seen := map[string]bool{}
	for i := range v.f.Metrics {
		m := &v.f.Metrics[i]
		where := fmt.Sprintf("metrics[%d]", i)
		if m.Key != "" {
			where = fmt.Sprintf("metrics[%d] %q", i, m.Key)
		}
		if m.Key != "" && seen[m.Key] {
			v.add(where+": key", "duplicate metric %q", m.Key)
		}
		seen[m.Key] = true
		v.metric(where, m)
	}
}

// metric checks m; prefix locates it in a file ("" for a metric on its
// own).
func (v *validator) metric(prefix string, m *Metric) {
	at := func(field string) string { return join(prefix, field) }
	v.checkKey(at("key"), "metric", m.Key)
	if len(m.Description) > MaxDescriptionLen {
		v.add(at("description"), "%d characters, above the limit of %d", len(m.Description), MaxDescriptionLen)
	}
	switch {
	case m.Type == "":
		v.add(at("type"), "type is required (one of %s)", joinNames(MetricTypes))
	case !contains(MetricTypes, m.Type):
		v.add(at("type"), "unknown metric type %q%s (one of %s)", m.Type, suggest(string(m.Type), names(MetricTypes)), joinNames(MetricTypes))
	case m.Type == MetricRatio:
		if m.Event != "" {
			v.add(at("event"), "a ratio metric names a numerator and a denominator event instead")
		}
		v.eventName(at("numerator"), m.Numerator)
		v.eventName(at("denominator"), m.Denominator)
	default:
		v.eventName(at("event"), m.Event)
		if m.Numerator != "" || m.Denominator != "" {
			v.add(at("type"), "numerator and denominator only apply to a ratio metric")
		}
	}
	v.window(at("conversionWindow"), m.ConversionWindow, false)
	if m.CUPED != nil {
		if m.Type == MetricRatio {
			v.add(at("cuped"), "CUPED adjusts conversion, mean, sum and count metrics, not ratios")
		}
		v.window(at("cuped.lookback"), m.CUPED.Lookback, true)
	}
}

func (v *validator) eventName(where, name string) {
	switch {
	case name == "":
		v.add(where, "event name is required")
	case len(name) > MaxEventNameLength:
		v.add(where, "event name is %d characters long, above the limit of %d", len(name), MaxEventNameLength)
	case !keyPattern.MatchString(name):
		v.add(where, "event name %q may only contain letters, digits, '.', '_', ':' and '-', and must start with a letter or digit", name)
	}
}

func (v *validator) window(where string, d Duration, required bool) {
	if d == "" {
		if required {
			v.add(where, "a duration is required (like 14d)")
		}
		return
	}
	w, err := d.Parse()
	switch {
	case err != nil:
		v.add(where, "%v", err)
	case w <= 0:
		v.add(where, "must be longer than zero")
	case w > MaxMetricWindow:
		v.add(where, "%s is longer than a year", d)
	}
}

// join locates field under prefix: "metrics[0] \"x\": type", or just
// "type" for an object validated on its own.
func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + ": " + field
}

// err returns the problems found as a *ValidationError, or nil.
func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}
