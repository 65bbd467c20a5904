package server

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/weirhq/weir/event"
)

const fastBatch = `{"id":"b-1","sentAt":"2026-11-22T12:00:00Z","dropped":2,"sdk":"weir-go/1","events":[
 {"kind":"exposure","time":"2026-11-22T11:59:00Z","unit":"user-1","flag":"checkout","variant":"treatment","flagVersion":3,"reason":"SPLIT","experiment":"checkout-test"},
 {"kind":"track","time":"2026-11-22T11:59:30.123456+02:00","unit":"user-1","name":"purchase","value":12.5,"properties":{"plan":"pro","items":3,"first":true,"none":null}},
 {"kind":"track","time":"2026-11-22T11:59:31Z","unit":"user-2","name":"signup","value":null,"properties":null}]}`

func FuzzBatchFastDecodeMatchesEventDecode(f *testing.F) {
	for _, seed := range []string{fastBatch, `{}`, `{"events":[]}`, `{"id":"x","events":[{}]}`, ` {"id":"x"} `,
		`{"id":"x","id":"y"}`, `{"ID":"x"}`, `{"id":"\u0078"}`, `{"id":"x","events":null}`, `{"id":"x","events":[null]}`,
		`{"events":[{"kind":"track","value":1e400}]}`, `{"events":[{"flagVersion":1.0}]}`, `{"events":[{"flagVersion":01}]}`,
		`{"events":[{"flagVersion":-0}]}`, `{"events":[{"flagVersion":9223372036854775808}]}`, `{"dropped":-1}`,
		`{"events":[{"time":"2026-11-22T11:59:00z"}]}`, `{"events":[{"time":"2026-11-22 11:59:00Z"}]}`, `{"events":[{"time":null}]}`,
		`{"events":[{"properties":{"a":1},"properties":{"b":2}}]}`, `{"events":[{"properties":{"a":{"b":1}}}]}`,
		`{"events":[{"unit":"é"}]}`, "{\"events\":[{\"unit\":\"\xff\"}]}", `{"events":[{"kind":"track","extra":1}]}`,
		`{"id":"x"} {}`, `{"id":"x",}`, `{"events":[{},]}`, `{"events":[{"value":-0.0e-0}]}`} {
		f.Add(seed)
	}
	lim := event.DefaultLimits()
	lim.MaxEvents = 5
	f.Fuzz(func(t *testing.T, body string) {
		fast, ok := decodeBatchFast([]byte(body), lim, &nameTable{names: map[string]string{}})
		if !ok {
			return // event.Decode decides
		}
		slow, err := event.Decode(strings.NewReader(body), lim)
		if err != nil {
			t.Fatalf("%q: the fast path accepted what event.Decode refuses: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast       %#v\nevent.Decode %#v", body, fast, slow)
		}
	})
}

func TestTheFastDecoderTakesTheCommonBatchAndLeavesTheRest(t *testing.T) {
	lim := event.DefaultLimits()
	names := &nameTable{names: map[string]string{}}
	b, ok := decodeBatchFast([]byte(fastBatch), lim, names)
	if !ok || len(b.Events) != 3 {
		t.Fatalf("the common batch was not decoded: %v %+v", ok, b)
	}
	// Strings are copies: the request buffer is reused.
	buf := []byte(fastBatch)
	b, _ = decodeBatchFast(buf, lim, names)
	for i := range buf {
		buf[i] = 'x'
	}
	if b.Events[0].Unit != "user-1" || b.Events[0].Flag != "checkout" || b.ID != "b-1" {
		t.Fatalf("decoded strings alias the buffer: %+v", b.Events[0])
	}
	lim.MaxEvents = 2
	if _, ok := decodeBatchFast([]byte(fastBatch), lim, names); ok {
		t.Fatal("a batch over MaxEvents was decoded; event.Decode must report ErrTooLarge")
	}
	if _, err := event.Decode(bytes.NewReader([]byte(fastBatch)), lim); !errors.Is(err, event.ErrTooLarge) {
		t.Fatalf("event.Decode: %v", err)
	}
}
