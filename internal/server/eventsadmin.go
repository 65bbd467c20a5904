package server

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/internal/ingest"
)

// maxStatsWindow bounds a stats window (the longest retention).
const maxStatsWindow = 3650 * 24 * time.Hour

// statsView is the body of GET /api/v1/environments/{env}/events/stats.
type statsView struct {
	Environment string            `json:"environment"`
	From        time.Time         `json:"from"`
	To          time.Time         `json:"to"`
	Exposures   int64             `json:"exposures"`
	Tracks      int64             `json:"tracks"`
	Batches     int64             `json:"batches"`
	Dropped     int64             `json:"senderDropped"`
	LastEvent   *time.Time        `json:"lastEvent"`
	Flags       []flagVariantView `json:"flags"`
	Metrics     []metricCountView `json:"metrics"`
	Intake      intakeView        `json:"intake"`
}

type flagVariantView struct {
	Flag       string `json:"flag"`
	Variant    string `json:"variant"`
	Experiment string `json:"experiment,omitempty"`
	Rollout    string `json:"rollout,omitempty"`
	Exposures  int64  `json:"exposures"`
}

type metricCountView struct {
	Name      string  `json:"name"`
	Events    int64   `json:"events"`
	WithValue int64   `json:"withValue"`
	Sum       float64 `json:"sum"`
}

// intakeView counts what this process's intake did for the environment.
type intakeView struct {
	Scope string    `json:"scope"`
	Since time.Time `json:"since"`
	// Accepted counts stored batches and duplicates (stored before).
	AcceptedBatches  int64 `json:"acceptedBatches"`
	AcceptedEvents   int64 `json:"acceptedEvents"`
	DuplicateBatches int64 `json:"duplicateBatches"`
	RejectedBatches  int64 `json:"rejectedBatches"`
	RejectedEvents   int64 `json:"rejectedEvents"`
	ThrottledBatches int64 `json:"throttledBatches"`
	ThrottledEvents  int64 `json:"throttledEvents"`
	FailedBatches    int64 `json:"failedBatches"`
	// Reasons counts batches per reason label of
	// weir_event_intake_batches_total.
	Reasons map[string]int64 `json:"reasons"`
}

const intakeScope = "counted by this server process since it started (each replica counts its own; not stored)"

func (s *Server) eventStats(w http.ResponseWriter, r *http.Request) error {
	env := r.PathValue("env")
	from, to, err := statsWindow(r.URL.Query(), time.Now())
	if err != nil {
		return err
	}
	cfg, err := s.current(r.Context())
	if err != nil {
		return err
	}
	if !envExists(cfg, env) {
		return notFound("environment %q", env)
	}
	if s.intake.stats == nil {
		return errIntakeOff
	}
	st, err := s.intake.stats.EventStats(r.Context(), env, from, to)
	if err != nil {
		return err
	}
	v := statsView{Environment: env, From: from, To: to, Exposures: st.Exposures, Tracks: st.Tracks, Batches: st.Batches,
		Dropped: st.Dropped, Flags: []flagVariantView{}, Metrics: []metricCountView{}, Intake: s.intake.view(env)}
	if !st.LastEvent.IsZero() {
		last := st.LastEvent.UTC()
		v.LastEvent = &last
	}
	for _, f := range st.Flags {
		v.Flags = append(v.Flags, flagVariantView{Flag: f.Flag, Variant: f.Variant, Experiment: f.Experiment, Rollout: f.Rollout, Exposures: f.Exposures})
	}
	for _, m := range st.Metrics {
		v.Metrics = append(v.Metrics, metricCountView{Name: m.Name, Events: m.Events, WithValue: m.WithValue, Sum: m.Sum})
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (in *intake) view(env string) intakeView {
	v := intakeView{Scope: intakeScope, Since: in.started.UTC().Truncate(time.Second), Reasons: map[string]int64{}}
	for o := range numOutcomes {
		v.Reasons[outcomeLabels[o].reason] = 0
	}
	c, ok := in.byEnv.Load(env)
	if !ok {
		return v
	}
	counts := c.(*envIntake)
	for o := range numOutcomes {
		batches, events := counts.batches[o].Load(), counts.events[o].Load()
		v.Reasons[outcomeLabels[o].reason] = batches
		switch outcomeLabels[o].result {
		case "accepted":
			v.AcceptedBatches += batches
			v.AcceptedEvents += events
		case "rejected":
			v.RejectedBatches += batches
			v.RejectedEvents += events
		case "throttled":
			v.ThrottledBatches += batches
			v.ThrottledEvents += events
		case "failed":
			v.FailedBatches += batches
		}
	}
	v.DuplicateBatches = counts.batches[outcomeDuplicate].Load()
	return v
}

// statsWindow reads ?window=24h (also 7d), or ?from= and ?to= (RFC 3339;
// to defaults to now and from to 24 hours before to).
func statsWindow(q url.Values, now time.Time) (time.Time, time.Time, error) {
	to := now.UTC()
	if s := q.Get("to"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return time.Time{}, time.Time{}, badRequest("to", "want an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		to = t.UTC()
	}
	window := defaultStatsWindow
	from := to.Add(-window)
	switch ws, fs := q.Get("window"), q.Get("from"); {
	case ws != "" && fs != "":
		return time.Time{}, time.Time{}, badRequest("window", "give a window or a from time, not both")
	case ws != "":
		d, err := parseWindow(ws)
		if err != nil {
			return time.Time{}, time.Time{}, badRequest("window", err.Error())
		}
		from = to.Add(-d)
	case fs != "":
		t, err := time.Parse(time.RFC3339, fs)
		if err != nil {
			return time.Time{}, time.Time{}, badRequest("from", "want an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		from = t.UTC()
	}
	if !from.Before(to) {
		return time.Time{}, time.Time{}, badRequest("from", "from must be before to")
	}
	return from, to, nil
}

// parseWindow reads a Go duration or a number of days ("7d").
func parseWindow(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("want a duration such as 24h, 90m or 7d, not %q", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("want a duration such as 24h, 90m or 7d, not %q", s)
		}
	}
	if d <= 0 || d > maxStatsWindow {
		return 0, fmt.Errorf("the window must be positive and at most %d days", maxStatsWindow/(24*time.Hour))
	}
	return d, nil
}

// tailEvent is the data of one event of a tail stream.
type tailEvent struct {
	Batch       string          `json:"batch"`
	Kind        event.Kind      `json:"kind"`
	Time        time.Time       `json:"time"`
	Unit        string          `json:"unit"` // the token, in hex
	Flag        string          `json:"flag,omitempty"`
	Variant     string          `json:"variant,omitempty"`
	FlagVersion int64           `json:"flagVersion,omitempty"`
	Reason      string          `json:"reason,omitempty"`
	Experiment  string          `json:"experiment,omitempty"`
	Rollout     string          `json:"rollout,omitempty"`
	Name        string          `json:"name,omitempty"`
	Value       *float64        `json:"value,omitempty"`
	Properties  json.RawMessage `json:"properties,omitempty"`
}

func viewTailEvent(ev *ingest.TailEvent) tailEvent {
	out := tailEvent{Batch: ev.Batch, Kind: ev.Kind}
	switch ev.Kind {
	case event.KindExposure:
		e := &ev.Exposure
		out.Time, out.Unit = e.Time.UTC(), hex.EncodeToString(e.Unit)
		out.Flag, out.Variant, out.FlagVersion, out.Reason = e.Flag, e.Variant, e.FlagVersion, e.Reason
		out.Experiment, out.Rollout = e.Experiment, e.Rollout
	case event.KindTrack:
		e := &ev.Track
		out.Time, out.Unit, out.Name, out.Properties = e.Time.UTC(), hex.EncodeToString(e.Unit), e.Name, e.Properties
		if e.HasValue {
			v := e.Value
			out.Value = &v
		}
	}
	return out
}

// eventTail serves GET /api/v1/environments/{env}/events/tail: every event
// stored from now on, as an SSE event named after its kind, with the
// unit's token (hex) and never the unit itself. When the reader falls
// behind, events are dropped and a "dropped" event says how many.
func (s *Server) eventTail(w http.ResponseWriter, r *http.Request) {
	const pattern = "GET /api/v1/environments/{env}/events/tail"
	status := http.StatusOK
	defer func() { s.metrics.requests.WithLabelValues(pattern, strconv.Itoa(status)).Inc() }()
	fail := func(err error) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		s.writeError(rec, r, err)
		status = rec.status
	}
	if _, err := s.authorizeAdmin(r); err != nil {
		fail(err)
		return
	}
	env := r.PathValue("env")
	cfg, err := s.current(r.Context())
	if err != nil {
		fail(err)
		return
	}
	if !envExists(cfg, env) {
		fail(notFound("environment %q", env))
		return
	}
	if s.intake.pipeline == nil {
		fail(errIntakeOff)
		return
	}
	if s.sdk.isStopped() {
		fail(&requestError{status: http.StatusServiceUnavailable, msg: "the server is shutting down"})
		return
	}
	sub := s.intake.pipeline.Subscribe(env, tailBuffer)
	defer sub.Close()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	var buf []byte
	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(sdkWriteTimeout))
		if _, err := w.Write(buf); err != nil {
			return false
		}
		buf = buf[:0]
		return rc.Flush() == nil
	}
	buf = append(buf, ": tailing events of "...)
	buf = append(buf, env...)
	buf = append(buf, "\n\n"...)
	if !flush() {
		return
	}
	ping := time.NewTicker(s.sdk.heartbeat)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.sdk.stop:
			return
		case <-ping.C:
			buf = append(buf, ": ping\n\n"...)
		case ev := <-sub.Events():
			buf = appendTailEvent(buf, &ev)
			// Send what else is waiting in the same write.
			for more := len(sub.Events()); more > 0 && len(buf) < 64<<10; more-- {
				ev := <-sub.Events()
				buf = appendTailEvent(buf, &ev)
			}
		}
		if n := sub.TakeDropped(); n > 0 {
			buf = append(buf, "event: dropped\ndata: {\"dropped\":"...)
			buf = strconv.AppendInt(buf, n, 10)
			buf = append(buf, "}\n\n"...)
		}
		if !flush() {
			return
		}
	}
}

func appendTailEvent(buf []byte, ev *ingest.TailEvent) []byte {
	data, err := json.Marshal(viewTailEvent(ev))
	if err != nil {
		return buf
	}
	buf = append(buf, "event: "...)
	buf = append(buf, ev.Kind...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, data...)
	return append(buf, "\n\n"...)
}

// isStopped reports whether StopStreams was called.
func (b *sdkSync) isStopped() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopped
}
