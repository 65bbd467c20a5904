package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/experiment"
	"github.com/weirhq/weir/internal/plan"
	"github.com/weirhq/weir/internal/store"
)

// registerExperiments adds the metric and experiment routes of the admin
// API.
func (s *Server) registerExperiments() {
	s.handle("GET", "/api/v1/metrics", true, s.listMetrics)
	s.handle("POST", "/api/v1/metrics", true, s.createMetric)
	s.handle("GET", "/api/v1/metrics/{key}", true, s.getMetric)
	s.handle("PUT", "/api/v1/metrics/{key}", true, s.putMetric)
	s.handle("DELETE", "/api/v1/metrics/{key}", true, s.deleteMetric)
	s.handle("GET", "/api/v1/experiments", true, s.listExperiments)
	s.handle("POST", "/api/v1/experiments", true, s.createExperiment)
	s.handle("GET", "/api/v1/experiments/{key}", true, s.getExperiment)
	s.handle("PUT", "/api/v1/experiments/{key}", true, s.putExperiment)
	s.handle("POST", "/api/v1/experiments/{key}/start", true, s.startExperiment)
	s.handle("POST", "/api/v1/experiments/{key}/stop", true, s.stopExperiment)
	s.handle("POST", "/api/v1/experiments/{key}/decide", true, s.decideExperiment)
	s.handle("POST", "/api/v1/experiments/{key}/archive", true, s.archiveExperiment)
}

// --- metrics ---

type metricView struct {
	Metric  flagmodel.Metric `json:"metric"`
	Version int64            `json:"version"`
}

func findMetric(cfg *store.Config, key string) (store.Versioned[flagmodel.Metric], bool) {
	for _, m := range cfg.Metrics {
		if m.Value.Key == key {
			return m, true
		}
	}
	return store.Versioned[flagmodel.Metric]{}, false
}

func (s *Server) listMetrics(w http.ResponseWriter, r *http.Request) error {
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	out := []metricView{}
	for _, m := range cfg.Metrics {
		out = append(out, metricView{m.Value, m.Version})
	}
	writeJSON(w, http.StatusOK, map[string]any{"metrics": out})
	return nil
}

func (s *Server) getMetric(w http.ResponseWriter, r *http.Request) error {
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	m, ok := findMetric(cfg, r.PathValue("key"))
	if !ok {
		return notFound("metric %q", r.PathValue("key"))
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(m.Version, 10)))
	writeJSON(w, http.StatusOK, metricView{m.Value, m.Version})
	return nil
}

type metricRequest struct {
	Metric          flagmodel.Metric `json:"metric"`
	ExpectedVersion *int64           `json:"expectedVersion,omitempty"`
	Reason          string           `json:"reason,omitempty"`
}

// createMetric creates a metric that must not exist yet.
func (s *Server) createMetric(w http.ResponseWriter, r *http.Request) error {
	var req metricRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	zero := int64(0)
	if req.ExpectedVersion != nil && *req.ExpectedVersion != 0 {
		return badRequest("expectedVersion", "a new metric has no version yet: leave it out, or PUT to update a metric")
	}
	return s.writeMetric(w, r, req.Metric, &zero, req.Reason, "metric.create")
}

// putMetric creates or updates a metric.
func (s *Server) putMetric(w http.ResponseWriter, r *http.Request) error {
	var req metricRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	key := r.PathValue("key")
	if req.Metric.Key == "" {
		req.Metric.Key = key
	}
	if req.Metric.Key != key {
		return badRequest("metric.key", fmt.Sprintf("%q does not match the URL's %q", req.Metric.Key, key))
	}
	return s.writeMetric(w, r, req.Metric, req.ExpectedVersion, req.Reason, "metric.update")
}

func (s *Server) writeMetric(w http.ResponseWriter, r *http.Request, m flagmodel.Metric, expected *int64, reason, action string) error {
	// The metric on its own first, so problems name its fields rather than
	// its place in the whole configuration.
	if err := m.Validate(); err != nil {
		return err
	}
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	cur, exists := findMetric(cfg, m.Key)
	if err := expectVersion(r, expected, fmt.Sprintf("metric %q", m.Key), cur.Version); err != nil {
		return err
	}
	if !exists {
		action = "metric.create"
	}
	p, c, err := s.change(r.Context(), &flagmodel.File{Metrics: []flagmodel.Metric{m}}, plan.Options{}, action, reason, false)
	if err != nil {
		return err
	}
	writeJSON(w, statusFor(exists, c), changeResponse(p, c))
	return nil
}

// deleteMetric deletes a metric that no experiment (but archived ones)
// measures.
func (s *Server) deleteMetric(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	reason := r.URL.Query().Get("reason")
	if len(reason) > maxReasonLength {
		return badRequest("reason", fmt.Sprintf("at most %d characters", maxReasonLength))
	}
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	cur, exists := findMetric(cfg, key)
	if !exists {
		return notFound("metric %q", key)
	}
	if err := expectVersion(r, nil, fmt.Sprintf("metric %q", key), cur.Version); err != nil {
		return err
	}
	cs := &store.Changeset{Actor: actorOf(r.Context()), Reason: reason, Action: "metric.delete",
		Changes: []store.Change{{Kind: store.KindMetric, Key: key, ExpectedVersion: cur.Version, Delete: true}}}
	keep := plan.FileOf(cfg)
	metrics := keep.Metrics[:0:0]
	for _, m := range keep.Metrics {
		if m.Key != key {
			metrics = append(metrics, m)
		}
	}
	keep.Metrics = metrics
	if err := experiment.Check(keep, cfg.Experiments); err != nil {
		return err
	}
	c, err := s.store.Commit(r.Context(), cs)
	if err != nil {
		return err
	}
	s.refresh(r.Context(), cfg, cs, c, nil)
	item := plan.Item{Op: plan.OpDelete, Kind: store.KindMetric, Key: key, Version: cur.Version, Diff: []string{"- metric " + key}}
	writeJSON(w, http.StatusOK, changeResponse(&plan.Plan{Items: []plan.Item{item}}, &c))
	return nil
}

// --- experiments ---

type experimentView struct {
	Experiment flagmodel.Experiment `json:"experiment"`
	Version    int64                `json:"version"`
}

func findExperiment(cfg *store.Config, key string) (store.Versioned[flagmodel.Experiment], bool) {
	for _, e := range cfg.Experiments {
		if e.Value.Key == key {
			return e, true
		}
	}
	return store.Versioned[flagmodel.Experiment]{}, false
}

// listExperiments lists experiments, optionally only those with a status,
// of a flag or in an environment.
func (s *Server) listExperiments(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	status := flagmodel.ExperimentStatus(q.Get("status"))
	if status != "" && !validStatus(status) {
		return badRequest("status", fmt.Sprintf("one of draft, running, stopped, decided, archived, not %q", status))
	}
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	out := []experimentView{}
	for _, e := range cfg.Experiments {
		x := e.Value
		if (status != "" && x.State() != status) || (q.Get("flag") != "" && x.Flag != q.Get("flag")) || (q.Get("env") != "" && x.Environment != q.Get("env")) {
			continue
		}
		out = append(out, experimentView{x, e.Version})
	}
	writeJSON(w, http.StatusOK, map[string]any{"experiments": out})
	return nil
}

func validStatus(s flagmodel.ExperimentStatus) bool {
	for _, v := range flagmodel.ExperimentStatuses {
		if v == s {
			return true
		}
	}
	return false
}

func (s *Server) getExperiment(w http.ResponseWriter, r *http.Request) error {
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	e, ok := findExperiment(cfg, r.PathValue("key"))
	if !ok {
		return notFound("experiment %q", r.PathValue("key"))
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(e.Version, 10)))
	writeJSON(w, http.StatusOK, experimentView{e.Value, e.Version})
	return nil
}

type experimentRequest struct {
	Experiment      flagmodel.Experiment `json:"experiment"`
	ExpectedVersion *int64               `json:"expectedVersion,omitempty"`
	Reason          string               `json:"reason,omitempty"`
	// DailyUnits, for an edit that starts a new phase, is the number of
	// units evaluating the flag per day, for the expected duration.
	DailyUnits int64 `json:"dailyUnits,omitempty"`
}

// stepView is the answer to every experiment write.
type stepView struct {
	Experiment flagmodel.Experiment `json:"experiment"`
	Version    int64                `json:"version"`
	Changed    bool                 `json:"changed"`
	// Changes lists the objects the step wrote, with their new versions:
	// the experiment and, when the step changed what a flag serves, the
	// flag's state.
	Changes []changedObject `json:"changes"`
	Time    time.Time       `json:"time,omitzero"`
}

type changedObject struct {
	Kind    store.Kind `json:"kind"`
	Key     string     `json:"key"`
	Env     string     `json:"env,omitempty"`
	Version int64      `json:"version"`
}

func (s *Server) createExperiment(w http.ResponseWriter, r *http.Request) error {
	var req experimentRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.ExpectedVersion != nil && *req.ExpectedVersion != 0 {
		return badRequest("expectedVersion", "a new experiment has no version yet: leave it out, or PUT to edit an experiment")
	}
	if req.DailyUnits != 0 {
		return badRequest("dailyUnits", "a draft does not run yet: give the daily units when starting it")
	}
	return s.step(w, r, "", nil, req.Reason, http.StatusCreated, func(cfg *store.Config, rq experiment.Request) (*experiment.Step, error) {
		return experiment.Create(cfg, req.Experiment, rq)
	})
}

// putExperiment edits a draft, or a running experiment's allocation and
// weights (a new phase).
func (s *Server) putExperiment(w http.ResponseWriter, r *http.Request) error {
	var req experimentRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	key := r.PathValue("key")
	if req.Experiment.Key == "" {
		req.Experiment.Key = key
	}
	if req.Experiment.Key != key {
		return badRequest("experiment.key", fmt.Sprintf("%q does not match the URL's %q", req.Experiment.Key, key))
	}
	if req.DailyUnits < 0 {
		return badRequest("dailyUnits", "a number of units, 0 or more")
	}
	if req.DailyUnits == 0 {
		req.DailyUnits = s.recentDailyUnits(r, key)
	}
	return s.step(w, r, key, req.ExpectedVersion, req.Reason, http.StatusOK, func(cfg *store.Config, rq experiment.Request) (*experiment.Step, error) {
		return experiment.Update(cfg, req.Experiment, experiment.Traffic{DailyUnits: req.DailyUnits}, rq)
	})
}

// recentDailyUnits estimates the daily units of an experiment's
// environment from recent traffic: the distinct units that sent events in
// the last 24 hours. It is an estimate of the units evaluating the flag
// (every active unit may), used when the caller gives no figure; 0 (no
// expected duration) when there is no traffic or it cannot be read.
func (s *Server) recentDailyUnits(r *http.Request, key string) int64 {
	cfg, err := s.current(r.Context())
	if err != nil {
		return 0
	}
	e, ok := findExperiment(cfg, key)
	if !ok {
		return 0
	}
	now := time.Now()
	n, err := s.store.DistinctUnits(r.Context(), e.Value.Environment, now.Add(-24*time.Hour), now)
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "recent traffic unknown: no expected duration",
			slog.String("experiment", key), slog.String("error", err.Error()))
		return 0
	}
	return n
}

type startRequest struct {
	Reason          string `json:"reason,omitempty"`
	ExpectedVersion *int64 `json:"expectedVersion,omitempty"`
	// DailyUnits is the number of units evaluating the flag per day in the
	// experiment's environment, for the expected duration. Without it, the
	// distinct units that sent events in the last 24 hours are used.
	DailyUnits int64 `json:"dailyUnits,omitempty"`
}

func (s *Server) startExperiment(w http.ResponseWriter, r *http.Request) error {
	var req startRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.DailyUnits < 0 {
		return badRequest("dailyUnits", "a number of units, 0 or more")
	}
	key := r.PathValue("key")
	if req.DailyUnits == 0 {
		req.DailyUnits = s.recentDailyUnits(r, key)
	}
	return s.step(w, r, key, req.ExpectedVersion, req.Reason, http.StatusOK, func(cfg *store.Config, rq experiment.Request) (*experiment.Step, error) {
		return experiment.Start(cfg, key, experiment.Traffic{DailyUnits: req.DailyUnits}, rq)
	})
}

type transitionRequest struct {
	Reason          string `json:"reason"`
	ExpectedVersion *int64 `json:"expectedVersion,omitempty"`
}

func (s *Server) stopExperiment(w http.ResponseWriter, r *http.Request) error {
	var req transitionRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return badRequest("reason", "say why the experiment stops (it goes into the audit log)")
	}
	key := r.PathValue("key")
	return s.step(w, r, key, req.ExpectedVersion, req.Reason, http.StatusOK, func(cfg *store.Config, rq experiment.Request) (*experiment.Step, error) {
		return experiment.Stop(cfg, key, rq)
	})
}

type decideRequest struct {
	Outcome flagmodel.Outcome `json:"outcome"`
	Variant string            `json:"variant,omitempty"`
	// SetDefault makes the shipped variant the flag's default in the
	// experiment's environment, in the same commit.
	SetDefault      bool   `json:"setDefault,omitempty"`
	Reason          string `json:"reason"`
	ExpectedVersion *int64 `json:"expectedVersion,omitempty"`
}

func (s *Server) decideExperiment(w http.ResponseWriter, r *http.Request) error {
	var req decideRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return badRequest("reason", "say why: it is the decision's record")
	}
	key := r.PathValue("key")
	d := experiment.Decision{Outcome: req.Outcome, Variant: req.Variant, SetDefault: req.SetDefault}
	return s.step(w, r, key, req.ExpectedVersion, req.Reason, http.StatusOK, func(cfg *store.Config, rq experiment.Request) (*experiment.Step, error) {
		return experiment.Decide(cfg, key, d, rq)
	})
}

func (s *Server) archiveExperiment(w http.ResponseWriter, r *http.Request) error {
	var req transitionRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	key := r.PathValue("key")
	return s.step(w, r, key, req.ExpectedVersion, req.Reason, http.StatusOK, func(cfg *store.Config, rq experiment.Request) (*experiment.Step, error) {
		return experiment.Archive(cfg, key, rq)
	})
}

// step plans an experiment step on the current configuration, checks the
// expected version of the experiment key (when key is not empty), commits
// the step and answers with the experiment as it is now.
//
// Steps run one at a time on a server, because a start in a layer takes a
// range that no other running experiment holds: two concurrent starts
// must not both see the same range as free.
func (s *Server) step(w http.ResponseWriter, r *http.Request, key string, expected *int64, reason string, created int,
	planStep func(cfg *store.Config, rq experiment.Request) (*experiment.Step, error)) error {
	if len(reason) > maxReasonLength {
		return badRequest("reason", fmt.Sprintf("at most %d characters", maxReasonLength))
	}
	s.experimentMu.Lock()
	defer s.experimentMu.Unlock()
	ctx := r.Context()
	cfg, err := s.current(ctx)
	if err != nil {
		return err
	}
	if key != "" {
		cur, ok := findExperiment(cfg, key)
		if !ok {
			return notFound("experiment %q", key)
		}
		if err := expectVersion(r, expected, fmt.Sprintf("experiment %q", key), cur.Version); err != nil {
			return err
		}
	}
	st, err := planStep(cfg, experiment.Request{Actor: actorOf(ctx), Reason: reason, Now: time.Now()})
	if err != nil {
		return err
	}
	view := stepView{Experiment: st.Experiment, Changes: []changedObject{}}
	if st.Changeset == nil {
		cur, _ := findExperiment(cfg, st.Experiment.Key)
		view.Version = cur.Version
		writeJSON(w, http.StatusOK, view)
		return nil
	}
	c, err := s.store.Commit(ctx, st.Changeset)
	if err != nil {
		return err
	}
	s.refresh(ctx, cfg, st.Changeset, c, st.Compiled)
	view.Changed, view.Time = true, c.Time
	for i, ch := range st.Changeset.Changes {
		view.Changes = append(view.Changes, changedObject{Kind: ch.Kind, Key: ch.Key, Env: ch.Env, Version: c.Versions[i]})
		if ch.Kind == store.KindExperiment {
			view.Version = c.Versions[i]
		}
	}
	status := http.StatusOK
	if view.Version == 1 {
		status = created
	}
	writeJSON(w, status, view)
	return nil
}

// refresh publishes what a commit by this server changed; a failure only
// delays it to the next reload.
func (s *Server) refresh(ctx context.Context, base *store.Config, cs *store.Changeset, c store.Committed, compiled *flagmodel.Compiled) {
	if err := s.afterCommit(ctx, base, cs, c, compiled); err != nil {
		s.log.Error("refreshing snapshots after a commit failed", "error", err.Error())
	}
}
