package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/store"
)

// aggregateCases are the conformance cases of store.AnalysisStore.
var aggregateCases = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"experiment aggregates count each unit once in its variant and exclude units that saw two", aggregatesPerUnit},
	{"aggregates honour the exposure window, the conversion window and the covariate span", aggregatesWindows},
	{"ratio aggregates keep numerator and denominator sums per unit", aggregatesRatio},
	{"an experiment without exposures aggregates to nothing", aggregatesEmpty},
	{"aggregates after retention count only the exposures that are left", aggregatesAfterRetention},
	{"distinct units count each unit of an environment's window once", distinctUnits},
	{"analyses are stored and listed newest first", analysesHistory},
}

var aggT0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func unitToken(name string) []byte {
	u := make([]byte, 16)
	copy(u, name)
	return u
}

func at(minutes int) time.Time { return aggT0.Add(time.Duration(minutes) * time.Minute) }

func aggExposure(unit, variant string, minute int) store.Exposure {
	return store.Exposure{Time: at(minute), Unit: unitToken(unit), Flag: "checkout", Variant: variant, FlagVersion: 1,
		Reason: "SPLIT", Experiment: "checkout-test"}
}

func aggTrack(unit, name string, minute int, value ...float64) store.Track {
	tr := store.Track{Time: at(minute), Unit: unitToken(unit), Name: name}
	if len(value) > 0 {
		tr.Value, tr.HasValue = value[0], true
	}
	return tr
}

// aggregateFixture stores the events the aggregation cases share:
//
//	a: control at 10, purchases at 20 (value 5) and 30 (no value: adds 0)
//	b: control at 10 and again at 50; purchase at 5 (before exposure)
//	c: treatment at 12; purchases at 15 (value 2), 16 (value 3); one at 3000 (late)
//	d: treatment at 10 and control at 11: excluded
//	e: treatment at 13, nothing else
//	f: control exposure of another experiment; g: exposure at 5000 (after the window)
//	staging holds a copy of a's events, which must not count.
func aggregateFixture(t *testing.T, s store.Store) {
	t.Helper()
	seed(t, s)
	other := aggExposure("f", "control", 10)
	other.Experiment = "other-test"
	batches := []store.EventBatch{{
		Env: "production", ID: "agg-1", ReceivedAt: at(0),
		Exposures: []store.Exposure{
			aggExposure("a", "control", 10), aggExposure("b", "control", 10), aggExposure("b", "control", 50),
			aggExposure("c", "treatment", 12), aggExposure("d", "treatment", 10), aggExposure("d", "control", 11),
			aggExposure("e", "treatment", 13), other, aggExposure("g", "treatment", 5000),
		},
		Tracks: []store.Track{
			aggTrack("a", "purchase", 20, 5), aggTrack("a", "purchase", 30), aggTrack("b", "purchase", 5, 7),
			aggTrack("c", "purchase", 15, 2), aggTrack("c", "purchase", 16, 3), aggTrack("c", "purchase", 3000, 100),
			aggTrack("d", "purchase", 20, 1), aggTrack("a", "view", 20, 1), aggTrack("a", "view", 21, 1), aggTrack("c", "view", 14, 1),
		},
	}, {
		Env: "staging", ID: "agg-2", ReceivedAt: at(0),
		Exposures: []store.Exposure{aggExposure("a", "control", 10)},
		Tracks:    []store.Track{aggTrack("a", "purchase", 20, 1000)},
	}}
	if _, err := s.AppendEvents(context.Background(), batches); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
}

func mustAggregate(t *testing.T, s store.Store, q store.AggregateQuery) store.Aggregates {
	t.Helper()
	q.Env, q.Flag, q.Experiment = "production", "checkout", "checkout-test"
	if q.From.IsZero() {
		q.From, q.To = at(0), at(4000)
	}
	got, err := s.AggregateExperiment(context.Background(), q)
	if err != nil {
		t.Fatalf("AggregateExperiment(%+v): %v", q, err)
	}
	// The variants a query lists may make it faster, never different:
	// listed in any order, some missing, or some that saw no units.
	for _, variants := range [][]string{{"control", "treatment"}, {"treatment", "control", "unused"}, {"control"}, {"unused"}} {
		q.Variants = variants
		again, err := s.AggregateExperiment(context.Background(), q)
		if err != nil {
			t.Fatalf("AggregateExperiment(%+v): %v", q, err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("AggregateExperiment listing variants %q = %+v, want %+v as without them", variants, again, got)
		}
	}
	return got
}

func checkAggregates(t *testing.T, what string, got store.Aggregates, multiple int64, want ...store.VariantAggregate) {
	t.Helper()
	if got.MultipleVariantUnits != multiple {
		t.Errorf("%s: %d units with several variants, want %d", what, got.MultipleVariantUnits, multiple)
	}
	if len(got.Variants) != len(want) {
		t.Fatalf("%s: variants %+v, want %+v", what, got.Variants, want)
	}
	for i := range want {
		g, w := got.Variants[i], want[i]
		close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
		if g.Variant != w.Variant || g.Units != w.Units || !close(g.Sum, w.Sum) || !close(g.SumSquares, w.SumSquares) ||
			!close(g.DenominatorSum, w.DenominatorSum) || !close(g.DenominatorSumSquares, w.DenominatorSumSquares) ||
			!close(g.SumProduct, w.SumProduct) || !close(g.CovariateSum, w.CovariateSum) ||
			!close(g.CovariateSumSquares, w.CovariateSumSquares) || !close(g.CovariateSumProduct, w.CovariateSumProduct) {
			t.Errorf("%s: variant %d = %+v, want %+v", what, i, g, w)
		}
	}
}

func aggregatesPerUnit(t *testing.T, s store.Store) {
	aggregateFixture(t, s)
	// Conversion: a converted (b's purchase came before its exposure); c
	// converted; e did not. d is excluded, f is another experiment's, g is
	// outside the window.
	checkAggregates(t, "conversion", mustAggregate(t, s, store.AggregateQuery{Aggregation: store.AggregateConversion, Event: "purchase"}), 1,
		store.VariantAggregate{Variant: "control", Units: 2, Sum: 1, SumSquares: 1},
		store.VariantAggregate{Variant: "treatment", Units: 2, Sum: 1, SumSquares: 1})
	// Count: a 2, b 0; c 2 (its late purchase is at To's minute 3000 < 4000: 3), e 0.
	checkAggregates(t, "count", mustAggregate(t, s, store.AggregateQuery{Aggregation: store.AggregateCount, Event: "purchase"}), 1,
		store.VariantAggregate{Variant: "control", Units: 2, Sum: 2, SumSquares: 4},
		store.VariantAggregate{Variant: "treatment", Units: 2, Sum: 3, SumSquares: 9})
	// Sum: a 5 + 0 (an event without a value adds 0) = 5; c 2 + 3 + 100 = 105.
	checkAggregates(t, "sum", mustAggregate(t, s, store.AggregateQuery{Aggregation: store.AggregateSum, Event: "purchase"}), 1,
		store.VariantAggregate{Variant: "control", Units: 2, Sum: 5, SumSquares: 25},
		store.VariantAggregate{Variant: "treatment", Units: 2, Sum: 105, SumSquares: 105 * 105})
}

func aggregatesWindows(t *testing.T, s store.Store) {
	aggregateFixture(t, s)
	// A one-hour conversion window drops c's purchase at minute 3000.
	checkAggregates(t, "sum within an hour", mustAggregate(t, s, store.AggregateQuery{Aggregation: store.AggregateSum, Event: "purchase", Window: time.Hour}), 1,
		store.VariantAggregate{Variant: "control", Units: 2, Sum: 5, SumSquares: 25},
		store.VariantAggregate{Variant: "treatment", Units: 2, Sum: 5, SumSquares: 25})
	// Ending the analysis at minute 12 keeps only exposures before it: a, b
	// and d (d's control exposure at 11 still makes it excluded); events at
	// or after minute 12 are not read.
	checkAggregates(t, "until minute 12", mustAggregate(t, s, store.AggregateQuery{Aggregation: store.AggregateCount, Event: "purchase", From: at(0), To: at(12)}), 1,
		store.VariantAggregate{Variant: "control", Units: 2, Sum: 0, SumSquares: 0})
	// Starting at minute 11 leaves d's treatment exposure at 10 out: d is
	// then a control unit that converted at 20; b's first exposure in the
	// window is at 50, after its purchase.
	checkAggregates(t, "from minute 11", mustAggregate(t, s, store.AggregateQuery{Aggregation: store.AggregateConversion, Event: "purchase", From: at(11), To: at(4000)}), 0,
		store.VariantAggregate{Variant: "control", Units: 2, Sum: 1, SumSquares: 1},
		store.VariantAggregate{Variant: "treatment", Units: 2, Sum: 1, SumSquares: 1})
	// The covariate is the same metric over the 30 minutes before each
	// unit's first exposure: b's purchase at 5 (7) for b; nothing for the
	// others.
	checkAggregates(t, "sum with covariate", mustAggregate(t, s, store.AggregateQuery{Aggregation: store.AggregateSum, Event: "purchase", Covariate: 30 * time.Minute}), 1,
		store.VariantAggregate{Variant: "control", Units: 2, Sum: 5, SumSquares: 25, CovariateSum: 7, CovariateSumSquares: 49, CovariateSumProduct: 0},
		store.VariantAggregate{Variant: "treatment", Units: 2, Sum: 105, SumSquares: 105 * 105})
}

func aggregatesRatio(t *testing.T, s store.Store) {
	aggregateFixture(t, s)
	// purchase value per view: a 5/2, b 0/0; c 105/1, e 0/0.
	checkAggregates(t, "ratio", mustAggregate(t, s, store.AggregateQuery{Aggregation: store.AggregateRatio, Event: "purchase", Denominator: "view"}), 1,
		store.VariantAggregate{Variant: "control", Units: 2, Sum: 5, SumSquares: 25, DenominatorSum: 2, DenominatorSumSquares: 4, SumProduct: 10},
		store.VariantAggregate{Variant: "treatment", Units: 2, Sum: 105, SumSquares: 105 * 105, DenominatorSum: 1, DenominatorSumSquares: 1, SumProduct: 105})
	if _, err := s.AggregateExperiment(context.Background(), store.AggregateQuery{Env: "production", Flag: "checkout", Experiment: "checkout-test",
		From: at(0), To: at(10), Aggregation: store.AggregateRatio, Event: "purchase"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a ratio without denominator: err = %v, want ErrInvalid", err)
	}
}

func aggregatesEmpty(t *testing.T, s store.Store) {
	seed(t, s)
	got, err := s.AggregateExperiment(context.Background(), store.AggregateQuery{Env: "production", Flag: "checkout", Experiment: "nothing",
		From: at(0), To: at(10), Aggregation: store.AggregateConversion, Event: "purchase"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Variants) != 0 || got.MultipleVariantUnits != 0 {
		t.Fatalf("aggregates = %+v, want none", got)
	}
}

func analysesHistory(t *testing.T, s store.Store) {
	seed(t, s)
	ctx := context.Background()
	for i, r := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		if err := s.SaveAnalysis(ctx, store.Analysis{Env: "production", Experiment: "checkout-test", Phase: 1,
			Time: at(i), Result: json.RawMessage(r)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveAnalysis(ctx, store.Analysis{Env: "staging", Experiment: "checkout-test", Phase: 1, Time: at(9), Result: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Analyses(ctx, "production", "checkout-test", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Time.Equal(at(2)) || !got[1].Time.Equal(at(1)) || got[0].Phase != 1 {
		t.Fatalf("analyses = %+v", got)
	}
	var doc map[string]int
	if err := json.Unmarshal(got[0].Result, &doc); err != nil || doc["n"] != 3 {
		t.Fatalf("result = %s (%v)", got[0].Result, err)
	}
	all, err := s.Analyses(ctx, "production", "checkout-test", 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("all analyses: %d, %v", len(all), err)
	}
}

func distinctUnits(t *testing.T, s store.Store) {
	aggregateFixture(t, s)
	ctx := context.Background()
	for _, tc := range []struct {
		env      string
		from, to int
		want     int64
	}{
		// a..g have exposures; a, b, c, d have track events too.
		{"production", 0, 6000, 7},
		// Before minute 11: a, b, d and f (another experiment's) exposed
		// at 10; b's purchase at 5.
		{"production", 0, 11, 4},
		// Minutes 14 to 22: c's view at 14 and purchases at 15, 16; a's
		// purchase and views at 20, 21; d's purchase at 20.
		{"production", 14, 22, 3},
		{"staging", 0, 6000, 1},
		{"development", 0, 6000, 0},
	} {
		got, err := s.DistinctUnits(ctx, tc.env, at(tc.from), at(tc.to))
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s [%d, %d): %d units, want %d", tc.env, tc.from, tc.to, got, tc.want)
		}
	}
}

func aggregatesAfterRetention(t *testing.T, s store.Store) {
	aggregateFixture(t, s)
	es := s.(store.EventStore)
	for {
		n, err := es.DeleteEventsBefore(context.Background(), "production", at(11), 2)
		if err != nil {
			t.Fatalf("DeleteEventsBefore: %v", err)
		}
		if n == 0 {
			break
		}
	}
	// Left: b at 50, c at 12, d's control exposure at 11, e at 13, g at
	// 5000, and the events from minute 11 on. d is now a control unit
	// that converted (at 20), b did not convert after minute 50.
	checkAggregates(t, "after retention", mustAggregate(t, s, store.AggregateQuery{Aggregation: store.AggregateConversion, Event: "purchase"}), 0,
		store.VariantAggregate{Variant: "control", Units: 2, Sum: 1, SumSquares: 1},
		store.VariantAggregate{Variant: "treatment", Units: 2, Sum: 1, SumSquares: 1})
}
