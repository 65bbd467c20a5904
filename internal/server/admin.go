package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/auth"
	"github.com/weirhq/weir/internal/experiment"
	"github.com/weirhq/weir/internal/plan"
	"github.com/weirhq/weir/internal/store"
)

// Limits of the evaluate endpoint.
const (
	maxEvaluateContexts = 10000
	maxReasonLength     = 1000
)

func (s *Server) registerRoutes() {
	s.registerHealth()
	s.handle("GET", "/api/v1/openapi.json", false, s.openAPI)
	s.handle("GET", "/api/v1/environments", true, s.listEnvironments)
	s.handle("GET", "/api/v1/flags", true, s.listFlags)
	s.handle("GET", "/api/v1/flags/{key}", true, s.getFlag)
	s.handle("PUT", "/api/v1/flags/{key}", true, s.putFlag)
	s.handle("DELETE", "/api/v1/flags/{key}", true, s.deleteFlag)
	s.handle("GET", "/api/v1/flags/{key}/environments/{env}", true, s.getState)
	s.handle("PUT", "/api/v1/flags/{key}/environments/{env}", true, s.putState)
	s.handle("POST", "/api/v1/flags/{key}/environments/{env}/enable", true, s.toggle(true))
	s.handle("POST", "/api/v1/flags/{key}/environments/{env}/disable", true, s.toggle(false))
	s.handle("GET", "/api/v1/flags/{key}/environments/{env}/history", true, s.history)
	s.handle("POST", "/api/v1/flags/{key}/environments/{env}/rollback", true, s.rollback)
	s.handle("GET", "/api/v1/segments", true, s.listSegments)
	s.handle("GET", "/api/v1/segments/{key}", true, s.getSegment)
	s.handle("PUT", "/api/v1/segments/{key}", true, s.putSegment)
	s.handle("POST", "/api/v1/apply", true, s.apply)
	s.handle("GET", "/api/v1/export", true, s.export)
	s.handle("POST", "/api/v1/environments/{env}/evaluate", true, s.evaluate)
	s.handle("GET", "/api/v1/keys", true, s.listKeys)
	s.handle("POST", "/api/v1/keys", true, s.createKey)
	s.handle("DELETE", "/api/v1/keys/{id}", true, s.revokeKey)
	s.handle("GET", "/api/v1/audit", true, s.auditLog)
	s.registerExperiments()
	s.registerResults()
	s.registerOFREP()
	s.registerSDK()
	s.registerEvents()
}

// change is what every write does: plan desired onto the current
// configuration, validate the merged whole, commit with expected versions,
// and swap in new snapshots.
func (s *Server) change(ctx context.Context, desired *flagmodel.File, opts plan.Options, action, reason string, dryRun bool) (*plan.Plan, *store.Committed, error) {
	// Rollbacks append " (rollback to version N)" to a reason checked
	// before, hence the margin.
	if len(reason) > maxReasonLength+64 {
		return nil, nil, badRequest("reason", fmt.Sprintf("at most %d characters", maxReasonLength))
	}
	cur, err := s.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	// Only the merged whole must be valid: a partial file may refer to
	// segments and flags that already exist on the server.
	merged := plan.Merge(cur, desired, opts)
	compiled, err := merged.ValidateCompiled()
	if err != nil {
		return nil, nil, err
	}
	if err := experiment.Check(merged, cur.Experiments); err != nil {
		return nil, nil, err
	}
	p, err := plan.Compute(cur, desired, opts)
	if err != nil {
		return nil, nil, err
	}
	if dryRun || p.Empty() {
		return p, nil, nil
	}
	cs := p.Changeset(actorOf(ctx), reason, action)
	committed, err := s.store.Commit(ctx, cs)
	if err != nil {
		return nil, nil, err
	}
	if err := s.afterCommit(ctx, cur, cs, committed, compiled); err != nil {
		// The change is committed; the next reload will pick it up.
		s.log.Error("refreshing snapshots after a commit failed", "error", err.Error())
	}
	return p, &committed, nil
}

// expectVersion checks an If-Match header or an expectedVersion field
// (nil: no check) against the current version.
func expectVersion(r *http.Request, field *int64, target string, current int64) error {
	want := field
	if h := strings.Trim(r.Header.Get("If-Match"), `" W/`); h != "" && h != "*" {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil {
			return badRequest("If-Match", "must be a version number")
		}
		want = &n
	}
	if want != nil && *want != current {
		return &store.ConflictError{Target: target, Expected: *want, Current: current}
	}
	return nil
}

func findFlag(cfg *store.Config, key string) (store.Versioned[flagmodel.Flag], bool) {
	for _, f := range cfg.Flags {
		if f.Value.Key == key {
			return f, true
		}
	}
	return store.Versioned[flagmodel.Flag]{}, false
}

func envExists(cfg *store.Config, env string) bool {
	for _, e := range cfg.Environments {
		if e.Value.Key == env {
			return true
		}
	}
	return false
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), store.ErrNotFound)
}

type envView struct {
	Key               string   `json:"key"`
	Description       string   `json:"description,omitempty"`
	Protected         bool     `json:"protected"`
	PrivateAttributes []string `json:"privateAttributes"`
	Version           int64    `json:"version"`
}

func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request) error {
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	out := []envView{}
	for _, e := range cfg.Environments {
		out = append(out, envView{Key: e.Value.Key, Description: e.Value.Description, Protected: e.Value.Protected,
			PrivateAttributes: append([]string{}, e.Value.PrivateAttributes...), Version: e.Version})
	}
	writeJSON(w, http.StatusOK, map[string]any{"environments": out})
	return nil
}

type flagSummary struct {
	Key          string                  `json:"key"`
	Description  string                  `json:"description,omitempty"`
	Kind         flagmodel.Kind          `json:"kind,omitempty"`
	Type         flagmodel.ValueType     `json:"type"`
	Version      int64                   `json:"version"`
	Environments map[string]stateSummary `json:"environments"`
}

type stateSummary struct {
	Enabled bool  `json:"enabled"`
	Version int64 `json:"version"`
}

func (s *Server) listFlags(w http.ResponseWriter, r *http.Request) error {
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	out := []flagSummary{}
	for _, f := range cfg.Flags {
		fs := flagSummary{Key: f.Value.Key, Description: f.Value.Description, Kind: f.Value.Kind, Type: f.Value.Type,
			Version: f.Version, Environments: map[string]stateSummary{}}
		for env, st := range f.Value.Environments {
			fs.Environments[env] = stateSummary{Enabled: st.Enabled, Version: st.Version}
		}
		out = append(out, fs)
	}
	writeJSON(w, http.StatusOK, map[string]any{"flags": out})
	return nil
}

type flagView struct {
	Flag    flagmodel.Flag   `json:"flag"`
	Version int64            `json:"version"`
	States  map[string]int64 `json:"stateVersions"`
}

func (s *Server) getFlag(w http.ResponseWriter, r *http.Request) error {
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	f, ok := findFlag(cfg, r.PathValue("key"))
	if !ok {
		return notFound("flag %q", r.PathValue("key"))
	}
	v := flagView{Flag: f.Value, Version: f.Version, States: map[string]int64{}}
	for env, st := range f.Value.Environments {
		v.States[env] = st.Version
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(f.Version, 10)))
	writeJSON(w, http.StatusOK, v)
	return nil
}

type putFlagRequest struct {
	Flag            flagmodel.Flag `json:"flag"`
	ExpectedVersion *int64         `json:"expectedVersion,omitempty"`
	Reason          string         `json:"reason,omitempty"`
}

// putFlag creates or updates a flag's definition; states in the body are
// ignored unless the flag is new (then they are its initial states).
func (s *Server) putFlag(w http.ResponseWriter, r *http.Request) error {
	var req putFlagRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	key := r.PathValue("key")
	if req.Flag.Key == "" {
		req.Flag.Key = key
	}
	if req.Flag.Key != key {
		return badRequest("flag.key", fmt.Sprintf("%q does not match the URL's %q", req.Flag.Key, key))
	}
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	cur, exists := findFlag(cfg, key)
	if err := expectVersion(r, req.ExpectedVersion, fmt.Sprintf("flag %q", key), cur.Version); err != nil {
		return err
	}
	desired := req.Flag
	if exists {
		desired.Environments = nil // definition only; states have their own endpoint
	}
	action := "flag.update"
	if !exists {
		action = "flag.create"
	}
	p, c, err := s.change(r.Context(), &flagmodel.File{Flags: []flagmodel.Flag{desired}}, plan.Options{}, action, req.Reason, false)
	if err != nil {
		return err
	}
	writeJSON(w, statusFor(exists, c), changeResponse(p, c))
	return nil
}

func statusFor(existed bool, c *store.Committed) int {
	if !existed && c != nil {
		return http.StatusCreated
	}
	return http.StatusOK
}

type changeView struct {
	Changed bool        `json:"changed"`
	Plan    []plan.Item `json:"plan"`
	// Versions are the new versions, in plan order of the changed items.
	Versions []int64   `json:"versions,omitempty"`
	Time     time.Time `json:"time,omitzero"`
}

func changeResponse(p *plan.Plan, c *store.Committed) changeView {
	v := changeView{Plan: p.Items}
	if v.Plan == nil {
		v.Plan = []plan.Item{}
	}
	if c != nil {
		v.Changed, v.Versions, v.Time = true, c.Versions, c.Time
	}
	return v
}

func (s *Server) deleteFlag(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	reason := r.URL.Query().Get("reason")
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	cur, exists := findFlag(cfg, key)
	if !exists {
		return notFound("flag %q", key)
	}
	if err := expectVersion(r, nil, fmt.Sprintf("flag %q", key), cur.Version); err != nil {
		return err
	}
	// Deleting is pruning the one flag: plan everything else as it is.
	keep := plan.FileOf(cfg)
	var flags []flagmodel.Flag
	for _, f := range keep.Flags {
		if f.Key != key {
			flags = append(flags, f)
		}
	}
	keep.Flags = flags
	compiled, err := keep.ValidateCompiled()
	if err != nil {
		return badRequest("key", "other flags depend on this one as a prerequisite: "+err.Error())
	}
	if err := experiment.Check(keep, cfg.Experiments); err != nil {
		return err
	}
	p, err := plan.Compute(cfg, keep, plan.Options{Prune: true})
	if err != nil {
		return err
	}
	cs := p.Changeset(actorOf(r.Context()), reason, "flag.delete")
	c, err := s.store.Commit(r.Context(), cs)
	if err != nil {
		return err
	}
	if err := s.afterCommit(r.Context(), cfg, cs, c, compiled); err != nil {
		s.log.Error("refreshing snapshots after a commit failed", "error", err.Error())
	}
	writeJSON(w, http.StatusOK, changeResponse(p, &c))
	return nil
}

type stateView struct {
	Flag    string              `json:"flag"`
	Env     string              `json:"env"`
	Version int64               `json:"version"`
	State   flagmodel.FlagState `json:"state"`
}

func (s *Server) loadState(ctx context.Context, key, env string) (*store.Config, store.Versioned[flagmodel.Flag], *flagmodel.FlagState, error) {
	cfg, err := s.current(ctx)
	if err != nil {
		return nil, store.Versioned[flagmodel.Flag]{}, nil, err
	}
	if !envExists(cfg, env) {
		return nil, store.Versioned[flagmodel.Flag]{}, nil, notFound("environment %q", env)
	}
	f, ok := findFlag(cfg, key)
	if !ok {
		return nil, f, nil, notFound("flag %q", key)
	}
	return cfg, f, f.Value.Environments[env], nil
}

func (s *Server) getState(w http.ResponseWriter, r *http.Request) error {
	key, env := r.PathValue("key"), r.PathValue("env")
	_, _, st, err := s.loadState(r.Context(), key, env)
	if err != nil {
		return err
	}
	if st == nil {
		return notFound("flag %q has no state in environment %q", key, env)
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(st.Version, 10)))
	writeJSON(w, http.StatusOK, stateView{Flag: key, Env: env, Version: st.Version, State: *st})
	return nil
}

type putStateRequest struct {
	State           flagmodel.FlagState `json:"state"`
	ExpectedVersion *int64              `json:"expectedVersion,omitempty"`
	Reason          string              `json:"reason,omitempty"`
}

func (s *Server) putState(w http.ResponseWriter, r *http.Request) error {
	var req putStateRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	return s.writeState(w, r, req.ExpectedVersion, req.Reason, "flag.state.update", func(*flagmodel.FlagState) (flagmodel.FlagState, error) {
		return req.State, nil
	})
}

// writeState changes one flag's state in one environment.
func (s *Server) writeState(w http.ResponseWriter, r *http.Request, expected *int64, reason, action string,
	edit func(cur *flagmodel.FlagState) (flagmodel.FlagState, error)) error {
	key, env := r.PathValue("key"), r.PathValue("env")
	_, f, st, err := s.loadState(r.Context(), key, env)
	if err != nil {
		return err
	}
	var curVersion int64
	if st != nil {
		curVersion = st.Version
	}
	if err := expectVersion(r, expected, fmt.Sprintf("flag %q in %s", key, env), curVersion); err != nil {
		return err
	}
	next, err := edit(st)
	if err != nil {
		return err
	}
	def := plan.Definition(f.Value)
	def.Environments = map[string]*flagmodel.FlagState{env: &next}
	p, c, err := s.change(r.Context(), &flagmodel.File{Flags: []flagmodel.Flag{def}}, plan.Options{}, action, reason, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, changeResponse(p, c))
	return nil
}

type toggleRequest struct {
	Reason          string `json:"reason"`
	ExpectedVersion *int64 `json:"expectedVersion,omitempty"`
}

func (s *Server) toggle(enable bool) func(w http.ResponseWriter, r *http.Request) error {
	action := "flag.disable"
	if enable {
		action = "flag.enable"
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		var req toggleRequest
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
		if strings.TrimSpace(req.Reason) == "" {
			return badRequest("reason", "say why (it goes into the audit log)")
		}
		return s.writeState(w, r, req.ExpectedVersion, req.Reason, action, func(cur *flagmodel.FlagState) (flagmodel.FlagState, error) {
			if cur == nil {
				if enable {
					return flagmodel.FlagState{}, badRequest("env", "the flag has no state in this environment yet; PUT one first")
				}
				return flagmodel.FlagState{Enabled: false}, nil
			}
			next := *cur
			next.Enabled = enable
			return next, nil
		})
	}
}

type versionView struct {
	Version int64           `json:"version"`
	Deleted bool            `json:"deleted,omitempty"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Reason  string          `json:"reason,omitempty"`
	Time    time.Time       `json:"time"`
	Content json.RawMessage `json:"content,omitempty"`
	Diff    []string        `json:"diff"`
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) error {
	key, env := r.PathValue("key"), r.PathValue("env")
	vs, err := s.store.History(r.Context(), store.KindFlagState, key, env)
	if err != nil {
		return err
	}
	out := make([]versionView, 0, len(vs))
	var prev []byte
	for _, v := range vs {
		var content []byte
		if !v.Deleted {
			content = v.Content
		}
		d := plan.Diff(prev, content)
		if d == nil {
			d = []string{}
		}
		out = append(out, versionView{Version: v.Version, Deleted: v.Deleted, Actor: v.Actor, Action: v.Action,
			Reason: v.Reason, Time: v.Time, Content: v.Content, Diff: d})
		prev = content
	}
	writeJSON(w, http.StatusOK, map[string]any{"flag": key, "env": env, "versions": out})
	return nil
}

type rollbackRequest struct {
	// To is a version number or "previous".
	To              string `json:"to"`
	Reason          string `json:"reason"`
	ExpectedVersion *int64 `json:"expectedVersion,omitempty"`
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) error {
	var req rollbackRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return badRequest("reason", "say why (it goes into the audit log)")
	}
	if len(req.Reason) > maxReasonLength {
		return badRequest("reason", fmt.Sprintf("at most %d characters", maxReasonLength))
	}
	key, env := r.PathValue("key"), r.PathValue("env")
	vs, err := s.store.History(r.Context(), store.KindFlagState, key, env)
	if err != nil {
		return err
	}
	latest := vs[len(vs)-1].Version
	var target int64
	if req.To == "previous" {
		target = latest - 1
	} else if n, err := strconv.ParseInt(req.To, 10, 64); err == nil {
		target = n
	} else {
		return badRequest("to", `a version number or "previous"`)
	}
	var found *store.Version
	for i := range vs {
		if vs[i].Version == target {
			found = &vs[i]
		}
	}
	if found == nil || found.Deleted {
		return badRequest("to", fmt.Sprintf("flag %q in %s has no version %d to restore (versions 1 to %d)", key, env, target, latest))
	}
	var restored flagmodel.FlagState
	if err := json.Unmarshal(found.Content, &restored); err != nil {
		return fmt.Errorf("decode version %d: %w", target, err)
	}
	return s.writeState(w, r, req.ExpectedVersion, fmt.Sprintf("%s (rollback to version %d)", req.Reason, target), "rollback",
		func(*flagmodel.FlagState) (flagmodel.FlagState, error) { return restored, nil })
}

func (s *Server) listSegments(w http.ResponseWriter, r *http.Request) error {
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	type segView struct {
		Segment flagmodel.Segment `json:"segment"`
		Version int64             `json:"version"`
	}
	out := []segView{}
	for _, sg := range cfg.Segments {
		out = append(out, segView{sg.Value, sg.Version})
	}
	writeJSON(w, http.StatusOK, map[string]any{"segments": out})
	return nil
}

func (s *Server) getSegment(w http.ResponseWriter, r *http.Request) error {
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	for _, sg := range cfg.Segments {
		if sg.Value.Key == r.PathValue("key") {
			w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(sg.Version, 10)))
			writeJSON(w, http.StatusOK, map[string]any{"segment": sg.Value, "version": sg.Version})
			return nil
		}
	}
	return notFound("segment %q", r.PathValue("key"))
}

type putSegmentRequest struct {
	Segment         flagmodel.Segment `json:"segment"`
	ExpectedVersion *int64            `json:"expectedVersion,omitempty"`
	Reason          string            `json:"reason,omitempty"`
}

func (s *Server) putSegment(w http.ResponseWriter, r *http.Request) error {
	var req putSegmentRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	key := r.PathValue("key")
	if req.Segment.Key == "" {
		req.Segment.Key = key
	}
	if req.Segment.Key != key {
		return badRequest("segment.key", fmt.Sprintf("%q does not match the URL's %q", req.Segment.Key, key))
	}
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	var curVersion int64
	for _, sg := range cfg.Segments {
		if sg.Value.Key == key {
			curVersion = sg.Version
		}
	}
	if err := expectVersion(r, req.ExpectedVersion, fmt.Sprintf("segment %q", key), curVersion); err != nil {
		return err
	}
	p, c, err := s.change(r.Context(), &flagmodel.File{Segments: []flagmodel.Segment{req.Segment}}, plan.Options{}, "segment.update", req.Reason, false)
	if err != nil {
		return err
	}
	writeJSON(w, statusFor(curVersion != 0, c), changeResponse(p, c))
	return nil
}

// apply takes a flags file (YAML or JSON) as the body; query parameters
// dryRun, prune and reason.
func (s *Server) apply(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	f, err := flagmodel.Parse(body)
	if err != nil {
		return badRequest("body", err.Error())
	}
	q := r.URL.Query()
	dry, prune := q.Get("dryRun") == "true", q.Get("prune") == "true"
	p, c, err := s.change(r.Context(), f, plan.Options{Prune: prune}, "apply", q.Get("reason"), dry)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, changeResponse(p, c))
	return nil
}

func (s *Server) export(w http.ResponseWriter, r *http.Request) error {
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	var envs []string
	if env := r.URL.Query().Get("env"); env != "" {
		if !envExists(cfg, env) {
			return notFound("environment %q", env)
		}
		envs = []string{env}
	}
	f := plan.FileOf(cfg, envs...)
	if r.URL.Query().Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json")
		return flagmodel.EncodeJSON(w, f)
	}
	w.Header().Set("Content-Type", "application/yaml")
	return flagmodel.EncodeYAML(w, f)
}

type evaluateRequest struct {
	Contexts []map[string]any `json:"contexts"`
	Flags    []string         `json:"flags,omitempty"`
	Explain  bool             `json:"explain,omitempty"`
}

type evaluateResult struct {
	Flag         string      `json:"flag"`
	Variant      string      `json:"variant,omitempty"`
	Value        any         `json:"value,omitempty"`
	Reason       string      `json:"reason"`
	RuleID       string      `json:"ruleId,omitempty"`
	ErrorCode    string      `json:"errorCode,omitempty"`
	ErrorMessage string      `json:"errorMessage,omitempty"`
	Version      int64       `json:"version,omitempty"`
	Trace        *eval.Trace `json:"trace,omitempty"`
}

// evaluate runs the server's own snapshot, so users can see what it really
// serves.
func (s *Server) evaluate(w http.ResponseWriter, r *http.Request) error {
	var req evaluateRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Contexts) > maxEvaluateContexts {
		return badRequest("contexts", fmt.Sprintf("at most %d contexts per request", maxEvaluateContexts))
	}
	snap := s.Snapshot(r.PathValue("env"))
	if snap == nil {
		return notFound("environment %q", r.PathValue("env"))
	}
	keys := req.Flags
	if len(keys) == 0 {
		keys = append([]string(nil), snap.Keys()...)
		sort.Strings(keys)
	}
	results := make([][]evaluateResult, 0, len(req.Contexts))
	for i, attrs := range req.Contexts {
		if tk, ok := attrs["targetingKey"]; ok {
			if _, isString := tk.(string); !isString {
				return badRequest(fmt.Sprintf("contexts[%d].targetingKey", i), "must be a string")
			}
		}
		ctx := eval.NewContext(attrs)
		row := make([]evaluateResult, 0, len(keys))
		for _, k := range keys {
			var res eval.Result
			var tr *eval.Trace
			if req.Explain {
				res, tr = snap.Explain(k, &ctx)
			} else {
				res = snap.Evaluate(k, &ctx)
			}
			row = append(row, evaluateResult{Flag: k, Variant: res.Variant, Value: res.Value, Reason: res.Reason.String(),
				RuleID: res.RuleID, ErrorCode: res.ErrorCode.String(), ErrorMessage: res.ErrorMessage, Version: res.Version, Trace: tr})
		}
		results = append(results, row)
	}
	writeJSON(w, http.StatusOK, map[string]any{"environment": snap.Environment(), "results": results})
	return nil
}

type keyView struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	Scope     store.Scope `json:"scope"`
	Env       string      `json:"env,omitempty"`
	Prefix    string      `json:"prefix"`
	CreatedBy string      `json:"createdBy"`
	CreatedAt time.Time   `json:"createdAt"`
	RevokedAt *time.Time  `json:"revokedAt,omitempty"`
	// Secret is present only in the response that creates the key.
	Secret string `json:"secret,omitempty"`
}

func viewKey(k store.Key) keyView {
	return keyView{ID: k.ID, Name: k.Name, Scope: k.Scope, Env: k.Env, Prefix: k.Prefix, CreatedBy: k.CreatedBy,
		CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.store.Keys(r.Context())
	if err != nil {
		return err
	}
	out := []keyView{}
	for _, k := range keys {
		out = append(out, viewKey(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
	return nil
}

type createKeyRequest struct {
	Name  string      `json:"name"`
	Scope store.Scope `json:"scope"`
	Env   string      `json:"env,omitempty"`
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var req createKeyRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	switch req.Scope {
	case store.ScopeSDK:
		if req.Env == "" {
			return badRequest("env", "an SDK key is bound to one environment")
		}
		cfg, err := s.current(r.Context())
		if err != nil {
			return err
		}
		if !envExists(cfg, req.Env) {
			return badRequest("env", fmt.Sprintf("unknown environment %q", req.Env))
		}
	case store.ScopeAdmin:
		if req.Env != "" {
			return badRequest("env", "admin tokens are not bound to an environment")
		}
	default:
		return badRequest("scope", `must be "sdk" or "admin"`)
	}
	if len(req.Name) > 200 {
		return badRequest("name", "at most 200 characters")
	}
	secret, shown, err := auth.NewSecret(req.Scope)
	if err != nil {
		return err
	}
	k := store.Key{ID: auth.NewID(), Name: req.Name, Scope: req.Scope, Env: req.Env, Hash: auth.Hash(secret),
		Prefix: shown, CreatedBy: actorOf(r.Context()), CreatedAt: time.Now().UTC()}
	if k.Name == "" {
		k.Name = k.ID
	}
	if err := s.store.CreateKey(r.Context(), k); err != nil {
		return err
	}
	v := viewKey(k)
	v.Secret = secret
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.RevokeKey(r.Context(), r.PathValue("id"), actorOf(r.Context())); err != nil {
		return err
	}
	s.forgetKeys()
	writeJSON(w, http.StatusOK, map[string]any{"revoked": r.PathValue("id")})
	return nil
}
