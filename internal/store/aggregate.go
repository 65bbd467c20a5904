package store

import (
	"context"
	"encoding/json"
	"time"
)

// Aggregation says how a metric's per-unit value is computed from a unit's
// track events.
type Aggregation string

// Aggregations.
const (
	// AggregateConversion: 1 when the unit has at least one event, else 0.
	AggregateConversion Aggregation = "conversion"
	// AggregateSum: the sum of the unit's event values (an event without a
	// value adds 0; 0 without events): the per-unit value of mean and sum
	// metrics, such as revenue per user.
	AggregateSum Aggregation = "sum"
	// AggregateCount: the number of the unit's events.
	AggregateCount Aggregation = "count"
	// AggregateRatio: the per-unit sums of the numerator and the
	// denominator events' values, kept as the two per-unit sums.
	AggregateRatio Aggregation = "ratio"
)

// AggregateQuery asks for an experiment's per-variant sufficient statistics
// of one metric. The per-unit work happens in the database.
//
// A unit is in the analysis when it has an exposure of the experiment with
// a time in [From, To); its variant is the one it was exposed to, and units
// exposed to more than one variant are excluded and counted. Its events are
// the track events named Event (and Denominator, for ratios) at or after its
// first exposure, before To, and within Window of the first exposure when
// Window > 0.
type AggregateQuery struct {
	Env string
	// Flag is the flag the experiment serves: its exposures are stored with
	// it.
	Flag        string
	Experiment  string
	From, To    time.Time
	Aggregation Aggregation
	// Event is the metric's track event (a ratio's numerator); for sum and
	// ratio aggregations an event adds its value, and 0 when it has none.
	Event string
	// Denominator is the ratio's denominator event.
	Denominator string
	Window      time.Duration
	// Variants, when given, are the experiment's variants: a backend may
	// count units per variant faster knowing them. Units exposed to other
	// variants are counted all the same.
	Variants []string
	// Covariate, when > 0, also computes the same per-unit value over the
	// Covariate before the unit's first exposure (the CUPED covariate).
	Covariate time.Duration
}

// VariantAggregate is one variant's sufficient statistics: the number of
// units and Σy, Σy² of their per-unit values; for ratios Σd, Σd², Σyd of the
// denominators; with a covariate Σx, Σx², Σxy.
type VariantAggregate struct {
	Variant               string
	Units                 int64
	Sum                   float64
	SumSquares            float64
	DenominatorSum        float64
	DenominatorSumSquares float64
	SumProduct            float64
	CovariateSum          float64
	CovariateSumSquares   float64
	CovariateSumProduct   float64
}

// Aggregates is the answer to an AggregateQuery. Variants are sorted by
// name and include only variants with units.
type Aggregates struct {
	Variants []VariantAggregate
	// MultipleVariantUnits counts the units excluded for being exposed to
	// more than one variant.
	MultipleVariantUnits int64
}

// Analysis is one stored analysis of an experiment: the results of every
// metric at a point in time, kept so an experiment's history can be shown.
type Analysis struct {
	Env        string
	Experiment string
	Phase      int
	Time       time.Time
	// Result is the analysis document (JSON), as the API returns it.
	Result json.RawMessage
}

// AnalysisStore is the experiment-analysis part of the contract.
type AnalysisStore interface {
	// AggregateExperiment computes an experiment's per-variant sufficient
	// statistics of one metric in the database.
	AggregateExperiment(ctx context.Context, q AggregateQuery) (Aggregates, error)
	// DistinctUnits counts the distinct units with an exposure or a track
	// event in an environment with times in [from, to): the traffic an
	// experiment's expected duration is estimated from.
	DistinctUnits(ctx context.Context, env string, from, to time.Time) (int64, error)
	// SaveAnalysis appends an analysis to the experiment's history.
	SaveAnalysis(ctx context.Context, a Analysis) error
	// Analyses returns up to limit of an experiment's stored analyses in an
	// environment, newest first; a limit of 0 or less means no limit.
	Analyses(ctx context.Context, env, experiment string, limit int) ([]Analysis, error)
}
