package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/analysis"
	"github.com/weirhq/weir/internal/stats"
	"github.com/weirhq/weir/internal/store"
)

func (s *Server) registerResults() {
	s.handle("GET", "/api/v1/experiments/{key}/results", true, s.experimentResults)
	s.handle("POST", "/api/v1/experiments/{key}/results", true, s.experimentResults)
	s.handle("GET", "/api/v1/experiments/{key}/results/history", true, s.experimentResultsHistory)
}

// Analyze computes the results of an experiment's current phase now. The
// server's handlers and the periodic analysis job both use it.
func (s *Server) Analyze(r *http.Request, key string, method stats.Method) (*analysis.Result, error) {
	cfg, err := s.current(r.Context())
	if err != nil {
		return nil, err
	}
	e, ok := findExperiment(cfg, key)
	if !ok {
		return nil, notFound("experiment %q", key)
	}
	metrics := make([]flagmodel.Metric, 0, len(cfg.Metrics))
	for _, m := range cfg.Metrics {
		metrics = append(metrics, m.Value)
	}
	plan, err := analysis.PlanFor(&e.Value, metrics, method, time.Now().UTC())
	if errors.Is(err, analysis.ErrNotStarted) {
		return nil, &requestError{status: http.StatusConflict, msg: err.Error()}
	}
	if err != nil {
		return nil, &requestError{status: http.StatusUnprocessableEntity, msg: err.Error()}
	}
	return analysis.Run(r.Context(), s.store, plan, plan.To)
}

// experimentResults analyses an experiment's current phase: GET computes
// and returns the results; POST also stores them in the experiment's
// history.
func (s *Server) experimentResults(w http.ResponseWriter, r *http.Request) error {
	method := stats.Method(r.URL.Query().Get("method"))
	switch method {
	case "", stats.MethodFrequentist, stats.MethodSequential, stats.MethodBayesian:
	default:
		return badRequest("method", fmt.Sprintf("one of frequentist, sequential, bayesian, not %q", method))
	}
	res, err := s.Analyze(r, r.PathValue("key"), method)
	if err != nil {
		return err
	}
	if r.Method == http.MethodPost {
		doc, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("encode results: %w", err)
		}
		if err := s.store.SaveAnalysis(r.Context(), store.Analysis{Env: res.Environment, Experiment: res.Experiment,
			Phase: res.Phase, Time: res.AnalyzedAt, Result: doc}); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// experimentResultsHistory lists an experiment's stored analyses, newest
// first.
func (s *Server) experimentResultsHistory(w http.ResponseWriter, r *http.Request) error {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return badRequest("limit", "a whole number from 1 to 10000")
		}
		limit = n
	}
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	e, ok := findExperiment(cfg, r.PathValue("key"))
	if !ok {
		return notFound("experiment %q", r.PathValue("key"))
	}
	stored, err := s.store.Analyses(r.Context(), e.Value.Environment, e.Value.Key, limit)
	if err != nil {
		return err
	}
	out := make([]json.RawMessage, 0, len(stored))
	for _, a := range stored {
		out = append(out, a.Result)
	}
	writeJSON(w, http.StatusOK, map[string]any{"analyses": out})
	return nil
}
