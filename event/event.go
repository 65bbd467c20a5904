package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// Kind says what an event records.
type Kind string

// Event kinds.
const (
	// KindExposure: a unit was served a variant by an experiment or a
	// guarded rollout.
	KindExposure Kind = "exposure"
	// KindTrack: a unit did a metric event.
	KindTrack Kind = "track"
)

// Event is one exposure or track event. Fields that do not belong to the
// event's kind must be empty.
type Event struct {
	Kind Kind `json:"kind"`
	// Time is when the event happened, on the sender's clock (see
	// CorrectClock).
	Time time.Time `json:"time"`
	// Unit identifies the unit of analysis (a user, an account, a device):
	// for an exposure the value of the split's bucketBy attribute. The
	// intake tokenizes it before anything is stored.
	Unit string `json:"unit"`

	// Flag, Variant and FlagVersion say what was served (exposures).
	Flag        string `json:"flag,omitempty"`
	Variant     string `json:"variant,omitempty"`
	FlagVersion int64  `json:"flagVersion,omitempty"`
	// Reason is the evaluation's reason in OpenFeature's words, e.g.
	// "SPLIT" (exposures, optional).
	Reason string `json:"reason,omitempty"`
	// Experiment or Rollout names what served the variant (exposures; at
	// most one of them).
	Experiment string `json:"experiment,omitempty"`
	Rollout    string `json:"rollout,omitempty"`

	// Name is the metric event's name (track events).
	Name string `json:"name,omitempty"`
	// Value is the metric event's numeric value, if it has one (track
	// events), e.g. an order's amount.
	Value *float64 `json:"value,omitempty"`
	// Properties are extra scalar values (strings, numbers, booleans) of a
	// track event. The intake keeps only those the environment allows.
	Properties map[string]any `json:"properties,omitempty"`
}

// Batch is what a sender posts to the intake.
type Batch struct {
	// ID is the batch's idempotency key: a retried batch carries the same
	// ID and is stored once. Senders use a random value per batch.
	ID string `json:"id"`
	// SentAt is when the sender sent the batch, on its own clock. When set,
	// the intake shifts every event time by the difference between its
	// clock and the sender's (see CorrectClock).
	SentAt time.Time `json:"sentAt,omitzero"`
	// Dropped counts events the sender dropped since its previous batch
	// (buffer full, rejected by the intake), so the loss is visible in the
	// environment's event statistics.
	Dropped int64 `json:"dropped,omitempty"`
	// SDK names the sender, e.g. "weir-go/1.0" (optional, informational).
	SDK    string  `json:"sdk,omitempty"`
	Events []Event `json:"events"`
}

// Limits bound what a batch may hold.
type Limits struct {
	// MaxEvents per batch.
	MaxEvents int
	// MaxStringLength bounds units, keys, names, reasons and property
	// string values, in bytes.
	MaxStringLength int
	// MaxProperties per track event.
	MaxProperties int
	// MaxFuture is how far past the intake's clock an event time may be
	// (after clock correction).
	MaxFuture time.Duration
	// MaxAge is how old an event may be when it arrives.
	MaxAge time.Duration
}

// DefaultLimits returns the intake's limits: 5,000 events per batch, 256
// bytes per string, 20 properties per event, events at most 5 minutes in
// the future and at most 7 days old.
func DefaultLimits() Limits {
	return Limits{MaxEvents: 5000, MaxStringLength: 256, MaxProperties: 20, MaxFuture: 5 * time.Minute, MaxAge: 7 * 24 * time.Hour}
}

// MaxIDLength bounds a batch's idempotency key.
const MaxIDLength = 128

// maxProblems bounds how many problems one ValidationError lists: a batch
// of 5,000 broken events does not need 5,000 lines to be fixed.
const maxProblems = 100

// Problem is one reason a batch is invalid. Index is the event's position in
// Events, or -1 for the batch envelope; Field names the JSON field.
type Problem struct {
	Index   int    `json:"index"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Where is the problem's place as a path, e.g. "events[3].unit" or "id".
func (p Problem) Where() string {
	if p.Index < 0 {
		return p.Field
	}
	if p.Field == "" {
		return fmt.Sprintf("events[%d]", p.Index)
	}
	return fmt.Sprintf("events[%d].%s", p.Index, p.Field)
}

// ValidationError lists every problem of a batch (up to 100; Truncated
// says more were found).
type ValidationError struct {
	Problems  []Problem
	Truncated bool
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid event batch: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Where())
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	if e.Truncated {
		b.WriteString("; …")
	}
	return b.String()
}

// ErrTooLarge reports a batch with more events than Limits.MaxEvents.
// Decode returns it wrapped, without reading the rest of the batch.
var ErrTooLarge = errors.New("too many events in the batch")

// Decode reads one batch from r strictly: unknown fields, trailing data
// and wrong types are errors (a *ValidationError naming the place; when r is
// an io.Seeker, such as a bytes.Reader, the event's index is found too). It
// does not validate the batch's content; call Validate.
func Decode(r io.Reader, lim Limits) (*Batch, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var b Batch
	if err := dec.Decode(&b); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) || strings.HasPrefix(err.Error(), "json: unknown field") {
			if located := locate(r, dec); located != nil {
				return nil, located
			}
		}
		return nil, decodeError(err)
	}
	if dec.More() {
		return nil, &ValidationError{Problems: []Problem{{Index: -1, Message: "unexpected data after the batch object"}}}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &ValidationError{Problems: []Problem{{Index: -1, Message: "unexpected data after the batch object"}}}
	}
	if lim.MaxEvents > 0 && len(b.Events) > lim.MaxEvents {
		return nil, fmt.Errorf("%w: %d events, the limit is %d", ErrTooLarge, len(b.Events), lim.MaxEvents)
	}
	return &b, nil
}

// locate finds which event a type error or an unknown field belongs to,
// when the body can be read again: encoding/json names the field but not
// the list index. Only failed batches pay for the second pass.
func locate(r io.Reader, dec *json.Decoder) error {
	seeker, ok := r.(io.Seeker)
	if !ok {
		return nil
	}
	if _, err := seeker.Seek(0, io.SeekStart); err != nil {
		return nil
	}
	var raw struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil
	}
	for i, ev := range raw.Events {
		d := json.NewDecoder(bytes.NewReader(ev))
		d.DisallowUnknownFields()
		var e Event
		if err := d.Decode(&e); err != nil {
			located := decodeError(err).(*ValidationError)
			for j := range located.Problems {
				located.Problems[j].Index = i
			}
			return located
		}
	}
	return nil
}

// decodeError turns a JSON error into a Problem with the best place it can
// tell.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		index, field := -1, typeErr.Field
		if rest, ok := strings.CutPrefix(field, "events."); ok {
			field = rest
		}
		want := typeErr.Type.String()
		switch want {
		case "time.Time":
			want = "an RFC 3339 time string"
		case "*float64", "float64", "int64":
			want = "a number"
		case "string", "event.Kind":
			want = "a string"
		case "[]event.Event":
			want = "a list of events"
		case "map[string]interface {}":
			want = "an object"
		}
		return &ValidationError{Problems: []Problem{{Index: index, Field: field, Message: fmt.Sprintf("got a JSON %s, want %s", typeErr.Value, want)}}}
	case errors.As(err, &syntaxErr):
		return &ValidationError{Problems: []Problem{{Index: -1, Message: fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)}}}
	case errors.Is(err, io.EOF):
		return &ValidationError{Problems: []Problem{{Index: -1, Message: "the body is empty; send a batch object"}}}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ValidationError{Problems: []Problem{{Index: -1, Message: "the batch is truncated"}}}
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	if f, ok := strings.CutPrefix(msg, "unknown field "); ok {
		return &ValidationError{Problems: []Problem{{Index: -1, Message: "unknown field " + f}}}
	}
	var timeErr *time.ParseError
	if errors.As(err, &timeErr) {
		return &ValidationError{Problems: []Problem{{Index: -1, Message: fmt.Sprintf("a time is not RFC 3339: %q", timeErr.Value)}}}
	}
	return &ValidationError{Problems: []Problem{{Index: -1, Message: msg}}}
}

// CorrectClock shifts every event time by received − SentAt, so events from
// a sender whose clock is off land at the right time on the intake's clock.
// It does nothing when SentAt is not set.
func (b *Batch) CorrectClock(received time.Time) {
	if b.SentAt.IsZero() {
		return
	}
	skew := received.Sub(b.SentAt)
	if skew == 0 {
		return
	}
	for i := range b.Events {
		if !b.Events[i].Time.IsZero() {
			b.Events[i].Time = b.Events[i].Time.Add(skew)
		}
	}
}

// Validate checks a batch against the limits at the intake's time now and
// returns a *ValidationError listing every problem, or nil.
func Validate(b *Batch, now time.Time, lim Limits) error {
	v := validator{lim: lim, now: now}
	switch {
	case b.ID == "":
		v.add(-1, "id", "the batch needs an id (its idempotency key)")
	case len(b.ID) > MaxIDLength:
		v.add(-1, "id", fmt.Sprintf("id is %d bytes long, above the limit of %d", len(b.ID), MaxIDLength))
	case !isKey(b.ID):
		v.add(-1, "id", "id may only contain letters, digits, '.', '_', ':' and '-', and must start with a letter or digit")
	}
	if b.Dropped < 0 {
		v.add(-1, "dropped", "dropped must not be negative")
	}
	if len(b.SDK) > lim.MaxStringLength {
		v.add(-1, "sdk", fmt.Sprintf("sdk is %d bytes long, above the limit of %d", len(b.SDK), lim.MaxStringLength))
	}
	if lim.MaxEvents > 0 && len(b.Events) > lim.MaxEvents {
		v.add(-1, "events", fmt.Sprintf("%d events, above the limit of %d", len(b.Events), lim.MaxEvents))
	}
	for i := range b.Events {
		v.event(i, &b.Events[i])
		if v.full() {
			break
		}
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems, Truncated: v.truncated}
}

type validator struct {
	lim       Limits
	now       time.Time
	problems  []Problem
	truncated bool
}

func (v *validator) add(index int, field, msg string) {
	if len(v.problems) >= maxProblems {
		v.truncated = true
		return
	}
	v.problems = append(v.problems, Problem{Index: index, Field: field, Message: msg})
}

func (v *validator) full() bool { return v.truncated }

func (v *validator) str(i int, field, s string, required bool) {
	switch {
	case s == "" && required:
		v.add(i, field, field+" is required")
	case len(s) > v.lim.MaxStringLength:
		v.add(i, field, fmt.Sprintf("%s is %d bytes long, above the limit of %d", field, len(s), v.lim.MaxStringLength))
	}
}

func (v *validator) key(i int, field, s string, required bool) {
	if s == "" {
		if required {
			v.add(i, field, field+" is required")
		}
		return
	}
	v.str(i, field, s, false)
	if len(s) <= v.lim.MaxStringLength && !isKey(s) {
		v.add(i, field, fmt.Sprintf("%s %q may only contain letters, digits, '.', '_', ':' and '-', and must start with a letter or digit", field, s))
	}
}

func (v *validator) absent(i int, e *Event, fields ...string) {
	for _, f := range fields {
		set := false
		switch f {
		case "flag":
			set = e.Flag != ""
		case "variant":
			set = e.Variant != ""
		case "flagVersion":
			set = e.FlagVersion != 0
		case "reason":
			set = e.Reason != ""
		case "experiment":
			set = e.Experiment != ""
		case "rollout":
			set = e.Rollout != ""
		case "name":
			set = e.Name != ""
		case "value":
			set = e.Value != nil
		case "properties":
			set = e.Properties != nil
		}
		if set {
			v.add(i, f, fmt.Sprintf("%s does not belong to a %s event", f, e.Kind))
		}
	}
}

func (v *validator) event(i int, e *Event) {
	switch {
	case e.Time.IsZero():
		v.add(i, "time", "time is required")
	case v.lim.MaxFuture > 0 && e.Time.After(v.now.Add(v.lim.MaxFuture)):
		v.add(i, "time", fmt.Sprintf("time %s is %s ahead of the intake's clock, above the limit of %s",
			e.Time.UTC().Format(time.RFC3339), e.Time.Sub(v.now).Round(time.Second), v.lim.MaxFuture))
	case v.lim.MaxAge > 0 && e.Time.Before(v.now.Add(-v.lim.MaxAge)):
		v.add(i, "time", fmt.Sprintf("time %s is older than the limit of %s", e.Time.UTC().Format(time.RFC3339), v.lim.MaxAge))
	}
	v.str(i, "unit", e.Unit, true)
	switch e.Kind {
	case KindExposure:
		v.key(i, "flag", e.Flag, true)
		v.key(i, "variant", e.Variant, true)
		if e.FlagVersion < 1 {
			v.add(i, "flagVersion", "flagVersion must be 1 or more")
		}
		if e.Reason != "" && !isReason(e.Reason) {
			v.add(i, "reason", fmt.Sprintf("reason %q is not an OpenFeature reason (upper-case letters and '_')", e.Reason))
		}
		v.key(i, "experiment", e.Experiment, false)
		v.key(i, "rollout", e.Rollout, false)
		if e.Experiment != "" && e.Rollout != "" {
			v.add(i, "rollout", "an exposure names an experiment or a rollout, not both")
		}
		v.absent(i, e, "name", "value", "properties")
	case KindTrack:
		v.key(i, "name", e.Name, true)
		if e.Value != nil && (math.IsNaN(*e.Value) || math.IsInf(*e.Value, 0)) {
			v.add(i, "value", "value must be a finite number")
		}
		v.properties(i, e.Properties)
		v.absent(i, e, "flag", "variant", "flagVersion", "reason", "experiment", "rollout")
	case "":
		v.add(i, "kind", `kind is required: "exposure" or "track"`)
	default:
		v.add(i, "kind", fmt.Sprintf(`kind %q is not "exposure" or "track"`, e.Kind))
	}
}

func (v *validator) properties(i int, props map[string]any) {
	if props == nil {
		return
	}
	if len(props) > v.lim.MaxProperties {
		v.add(i, "properties", fmt.Sprintf("%d properties, above the limit of %d", len(props), v.lim.MaxProperties))
		return
	}
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names) // problems in a stable order
	for _, k := range names {
		field := "properties." + k
		if len(k) > v.lim.MaxStringLength || !isKey(k) {
			v.add(i, "properties", fmt.Sprintf("property name %q may only contain letters, digits, '.', '_', ':' and '-' (at most %d bytes)", truncate(k, 64), v.lim.MaxStringLength))
			continue
		}
		switch pv := props[k].(type) {
		case string:
			v.str(i, field, pv, false)
		case bool:
		case float64:
			if math.IsNaN(pv) || math.IsInf(pv, 0) {
				v.add(i, field, "a number property must be finite")
			}
		case json.Number:
			if _, err := pv.Float64(); err != nil {
				v.add(i, field, "a number property must be finite")
			}
		default:
			v.add(i, field, "a property is a string, a number or a boolean, not a list, an object or null")
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// isKey reports whether s has the syntax of Weir's keys: letters, digits,
// '.', '_', ':' and '-', starting with a letter or digit.
func isKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == ':' || c == '-'):
		default:
			return false
		}
	}
	return true
}

func isReason(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

// Encode writes a batch as JSON, as Decode reads it.
func Encode(w io.Writer, b *Batch) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		return fmt.Errorf("encode event batch: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
