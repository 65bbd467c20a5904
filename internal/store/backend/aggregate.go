package backend

import (
	"fmt"
	"sort"

	"github.com/weirhq/weir/internal/store"
)

// AggregateExpressions returns the SQL expressions of a query's per-unit
// values over the columns of the per-unit step (n_cnt, n_sum, d_sum, x_cnt,
// x_sum): y (the metric), d (the ratio's denominator, 0 otherwise) and x
// (the covariate, 0 without one). Both dialects share them.
func AggregateExpressions(q store.AggregateQuery) (y, d, x string, err error) {
	d, x = "0.0", "0.0"
	switch q.Aggregation {
	case store.AggregateConversion:
		y = "(CASE WHEN n_cnt > 0 THEN 1.0 ELSE 0.0 END)"
		if q.Covariate > 0 {
			x = "(CASE WHEN x_cnt > 0 THEN 1.0 ELSE 0.0 END)"
		}
	case store.AggregateCount:
		y = "(n_cnt * 1.0)"
		if q.Covariate > 0 {
			x = "(x_cnt * 1.0)"
		}
	case store.AggregateSum:
		y = "n_sum"
		if q.Covariate > 0 {
			x = "x_sum"
		}
	case store.AggregateRatio:
		if q.Denominator == "" {
			return "", "", "", fmt.Errorf("%w: a ratio needs a denominator event", store.ErrInvalid)
		}
		y, d = "n_sum", "d_sum"
	default:
		return "", "", "", fmt.Errorf("%w: unknown aggregation %q", store.ErrInvalid, q.Aggregation)
	}
	if q.Event == "" {
		return "", "", "", fmt.Errorf("%w: the metric's event is required", store.ErrInvalid)
	}
	if !q.To.After(q.From) {
		return "", "", "", fmt.Errorf("%w: the analysis window is empty", store.ErrInvalid)
	}
	if q.Window < 0 || q.Covariate < 0 {
		return "", "", "", fmt.Errorf("%w: windows must not be negative", store.ErrInvalid)
	}
	return y, d, x, nil
}

// AggregateRow is one row of an aggregation query's result. Kind 0 rows
// hold a variant's sums over its units with events, kind 1 rows the
// variant's number of analysed units, and the kind 2 row, in Units, the
// number of units exposed to several variants. A backend may add rows of
// other kinds without a variant for itself; they are ignored.
type AggregateRow struct {
	Kind    int
	Variant *string
	store.VariantAggregate
}

// Rows is what ReadAggregates needs of a result set; database/sql's and
// pgx's rows both have it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ReadAggregates reads an aggregation query's rows (kind, variant, units
// and the nine sums) into Aggregates. Errors are the driver's: callers
// translate them.
func ReadAggregates(rows Rows) (store.Aggregates, error) {
	all, err := ReadAggregateRows(rows)
	if err != nil {
		return store.Aggregates{}, err
	}
	return CollectAggregates(all), nil
}

// ReadAggregateRows reads an aggregation query's rows as they are.
func ReadAggregateRows(rows Rows) ([]AggregateRow, error) {
	var all []AggregateRow
	for rows.Next() {
		var r AggregateRow
		if err := rows.Scan(&r.Kind, &r.Variant, &r.Units, &r.Sum, &r.SumSquares, &r.DenominatorSum, &r.DenominatorSumSquares,
			&r.SumProduct, &r.CovariateSum, &r.CovariateSumSquares, &r.CovariateSumProduct); err != nil {
			return nil, err
		}
		all = append(all, r)
	}
	return all, rows.Err()
}

// CollectAggregates turns result rows into Aggregates, sorted by variant.
func CollectAggregates(rows []AggregateRow) store.Aggregates {
	var out store.Aggregates
	byVariant := map[string]*store.VariantAggregate{}
	get := func(v string) *store.VariantAggregate {
		if a := byVariant[v]; a != nil {
			return a
		}
		a := &store.VariantAggregate{Variant: v}
		byVariant[v] = a
		return a
	}
	for _, r := range rows {
		switch {
		case r.Kind == 2:
			out.MultipleVariantUnits += r.Units
		case r.Variant == nil:
		case r.Kind == 1:
			get(*r.Variant).Units = r.Units
		default:
			a := get(*r.Variant)
			units := a.Units
			*a = r.VariantAggregate
			a.Variant, a.Units = *r.Variant, units
		}
	}
	for _, a := range byVariant {
		if a.Units > 0 {
			out.Variants = append(out.Variants, *a)
		}
	}
	sort.Slice(out.Variants, func(i, j int) bool { return out.Variants[i].Variant < out.Variants[j].Variant })
	return out
}
