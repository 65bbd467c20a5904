// Package analysis turns an experiment's stored events into results: for
// each metric it asks the store for per-variant sufficient statistics (the
// per-unit aggregation runs in the database, joining exposures and track
// events on the tokenized unit), hands them to the statistics engine
// (internal/stats) and collects the answers, with a sample-ratio check on
// the exposed units and p-values adjusted across the family of metrics and
// treatments.
//
// The package reads nothing but its Source and keeps no state; saving a
// result (so an experiment's history can be shown) is the caller's choice.
package analysis
