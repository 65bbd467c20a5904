package event_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/event"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func validBatch() string {
	return `{"id":"b-1","sentAt":"2026-11-22T12:00:00Z","dropped":2,"sdk":"weir-go/1","events":[
	 {"kind":"exposure","time":"2026-11-22T11:59:00Z","unit":"user-1","flag":"checkout","variant":"treatment","flagVersion":3,"reason":"SPLIT","experiment":"checkout-test"},
	 {"kind":"track","time":"2026-11-22T11:59:30Z","unit":"user-1","name":"purchase","value":12.5,"properties":{"plan":"pro","items":3,"first":true}},
	 {"kind":"track","time":"2026-11-22T11:59:31Z","unit":"user-2","name":"signup"}]}`
}

func TestAValidBatchDecodesAndValidates(t *testing.T) {
	b, err := event.Decode(strings.NewReader(validBatch()), event.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if err := event.Validate(b, now, event.DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	if b.ID != "b-1" || b.Dropped != 2 || len(b.Events) != 3 {
		t.Fatalf("batch = %+v", b)
	}
	e := b.Events[1]
	if e.Kind != event.KindTrack || e.Name != "purchase" || e.Value == nil || *e.Value != 12.5 || e.Properties["items"] != 3.0 {
		t.Fatalf("track event = %+v", e)
	}
	if b.Events[2].Value != nil {
		t.Fatal("an absent value must stay absent, not become 0")
	}
}

func TestEncodeRoundTrips(t *testing.T) {
	b, err := event.Decode(strings.NewReader(validBatch()), event.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := event.Encode(&buf, b); err != nil {
		t.Fatal(err)
	}
	again, err := event.Decode(&buf, event.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b, again) {
		t.Fatalf("round trip changed the batch:\n%+v\n%+v", b, again)
	}
}

func TestDecodeNamesWhatIsMalformed(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"an empty body", ``, "the body is empty"},
		{"truncated JSON", `{"id":"b","events":[{"kind":"track"`, "truncated"},
		{"a syntax error", `{"id":"b",}`, "malformed JSON"},
		{"an unknown field", `{"id":"b","events":[],"colour":1}`, `unknown field "colour"`},
		{"an unknown event field", `{"id":"b","events":[{"kind":"track","user":"x"}]}`, `unknown field "user"`},
		{"a wrong type inside an event", `{"id":"b","events":[{"kind":"track","unit":"u","name":"n"},{"kind":"track","unit":7}]}`, "events[1].unit: got a JSON number, want a string"},
		{"a value that is a string", `{"id":"b","events":[{"kind":"track","unit":"u","name":"n","value":"12"}]}`, "events[0].value: got a JSON string, want a number"},
		{"a time that is not RFC 3339", `{"id":"b","events":[{"kind":"track","time":"yesterday"}]}`, "RFC 3339"},
		{"two objects", `{"id":"b","events":[]} {"id":"c","events":[]}`, "unexpected data after the batch object"},
		{"a list", `[]`, "want"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := event.Decode(strings.NewReader(tc.body), event.DefaultLimits())
			var ve *event.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestDecodeRefusesTooManyEvents(t *testing.T) {
	lim := event.DefaultLimits()
	lim.MaxEvents = 2
	body := `{"id":"b","events":[{"kind":"track"},{"kind":"track"},{"kind":"track"}]}`
	if _, err := event.Decode(strings.NewReader(body), lim); !errors.Is(err, event.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestValidateListsEveryProblemWithItsIndexAndField(t *testing.T) {
	nan := math.NaN()
	long := strings.Repeat("x", 300)
	b := &event.Batch{ID: "has space", Dropped: -1, Events: []event.Event{
		{Kind: event.KindExposure, Time: now, Unit: "u", Flag: "f", Variant: "v", FlagVersion: 1}, // valid
		{Kind: "click", Time: now, Unit: "u"},
		{Kind: event.KindExposure, Unit: "", Flag: "bad flag", FlagVersion: 0, Reason: "split", Experiment: "e", Rollout: "r", Name: "n"},
		{Kind: event.KindTrack, Time: now.Add(time.Hour), Unit: long, Value: &nan, Flag: "f",
			Properties: map[string]any{"ok": "x", "list": []any{1}, "bad name": 1.0, "inf": math.Inf(1), "null": nil}},
		{Kind: event.KindTrack, Time: now.Add(-8 * 24 * time.Hour), Unit: "u"},
	}}
	err := event.Validate(b, now, event.DefaultLimits())
	var ve *event.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.Where()+": "+p.Message)
	}
	want := []string{
		"id: id may only contain letters, digits, '.', '_', ':' and '-', and must start with a letter or digit",
		"dropped: dropped must not be negative",
		`events[1].kind: kind "click" is not "exposure" or "track"`,
		"events[2].time: time is required",
		"events[2].unit: unit is required",
		`events[2].flag: flag "bad flag" may only contain letters, digits, '.', '_', ':' and '-', and must start with a letter or digit`,
		"events[2].variant: variant is required",
		"events[2].flagVersion: flagVersion must be 1 or more",
		`events[2].reason: reason "split" is not an OpenFeature reason (upper-case letters and '_')`,
		"events[2].rollout: an exposure names an experiment or a rollout, not both",
		"events[2].name: name does not belong to a exposure event",
		"events[3].time: time 2026-11-22T13:00:00Z is 1h0m0s ahead of the intake's clock, above the limit of 5m0s",
		"events[3].unit: unit is 300 bytes long, above the limit of 256",
		"events[3].name: name is required",
		"events[3].value: value must be a finite number",
		`events[3].properties: property name "bad name" may only contain letters, digits, '.', '_', ':' and '-' (at most 256 bytes)`,
		"events[3].properties.inf: a number property must be finite",
		"events[3].properties.list: a property is a string, a number or a boolean, not a list, an object or null",
		"events[3].properties.null: a property is a string, a number or a boolean, not a list, an object or null",
		"events[3].flag: flag does not belong to a track event",
		"events[4].time: time 2026-11-14T12:00:00Z is older than the limit of 168h0m0s",
		"events[4].name: name is required",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ve.Problems[2].Index != 1 || ve.Problems[2].Field != "kind" || ve.Problems[0].Index != -1 {
		t.Fatalf("index/field not set: %+v", ve.Problems[:3])
	}
}

func TestValidateStopsListingAfterAHundredProblems(t *testing.T) {
	b := &event.Batch{ID: "b"}
	for range 500 {
		b.Events = append(b.Events, event.Event{Kind: event.KindTrack})
	}
	var ve *event.ValidationError
	if err := event.Validate(b, now, event.DefaultLimits()); !errors.As(err, &ve) || len(ve.Problems) != 100 || !ve.Truncated {
		t.Fatalf("err = %v", err)
	}
}

func TestCorrectClockShiftsEventsBySenderSkew(t *testing.T) {
	// The sender's clock is 10 minutes behind: its "now" is 11:50.
	b := &event.Batch{ID: "b", SentAt: now.Add(-10 * time.Minute), Events: []event.Event{
		{Kind: event.KindTrack, Time: now.Add(-11 * time.Minute), Unit: "u", Name: "n"},
	}}
	b.CorrectClock(now)
	if got := b.Events[0].Time; !got.Equal(now.Add(-time.Minute)) {
		t.Fatalf("time = %s, want one minute before the intake's now", got)
	}
	// A sender 10 minutes ahead would be rejected without the correction.
	b = &event.Batch{ID: "b", SentAt: now.Add(10 * time.Minute), Events: []event.Event{
		{Kind: event.KindTrack, Time: now.Add(10 * time.Minute), Unit: "u", Name: "n"},
	}}
	b.CorrectClock(now)
	if err := event.Validate(b, now, event.DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	// Without SentAt, nothing moves.
	b = &event.Batch{ID: "b", Events: []event.Event{{Time: now}}}
	b.CorrectClock(now.Add(time.Hour))
	if !b.Events[0].Time.Equal(now) {
		t.Fatal("moved without SentAt")
	}
}

func FuzzDecodeAndValidate(f *testing.F) {
	f.Add([]byte(validBatch()))
	f.Add([]byte(`{"id":"b","events":[{"kind":"track","time":"2026-11-22T11:00:00Z","unit":"u","name":"n","properties":{"a":[1]}}]}`))
	f.Add([]byte(`{"id":"","events":null}`))
	f.Add([]byte(`{"events":[{"kind":"exposure","flagVersion":-1e309}]}`))
	lim := event.DefaultLimits()
	lim.MaxEvents = 50
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := event.Decode(bytes.NewReader(data), lim)
		if err != nil {
			var ve *event.ValidationError
			if !errors.As(err, &ve) && !errors.Is(err, event.ErrTooLarge) {
				t.Fatalf("Decode error of an unexpected type: %T %v", err, err)
			}
			if ve != nil && len(ve.Problems) == 0 {
				t.Fatal("a ValidationError without problems")
			}
			return
		}
		b.CorrectClock(now)
		if err := event.Validate(b, now, lim); err != nil {
			var ve *event.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("Validate error %T %v", err, err)
			}
			return
		}
		// A valid batch survives a round trip unchanged and still validates.
		var buf bytes.Buffer
		if err := event.Encode(&buf, b); err != nil {
			t.Fatal(err)
		}
		again, err := event.Decode(&buf, lim)
		if err != nil {
			t.Fatalf("re-decoding a valid batch: %v\n%s", err, buf.String())
		}
		if err := event.Validate(again, now, lim); err != nil {
			t.Fatalf("a re-encoded valid batch is invalid: %v", err)
		}
	})
}
