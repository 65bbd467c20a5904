package sdk

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func readAll(t *testing.T, stream string, max int) ([]sseEvent, error) {
	t.Helper()
	r := newSSEReader(strings.NewReader(stream), max)
	var out []sseEvent
	for {
		ev, err := r.next()
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
}

func TestTheSSEReaderFollowsTheEventStreamFormat(t *testing.T) {
	for _, c := range []struct {
		name, stream string
		want         []sseEvent
	}{
		{"one event", "event: snapshot\nid: 7\ndata: {}\n\n",
			[]sseEvent{{event: "snapshot", id: "7", data: "{}"}}},
		{"multi-line data joined with LF", "data: a\ndata:b\ndata\n\n",
			[]sseEvent{{event: "message", data: "a\nb\n"}}},
		{"CRLF and lone CR line ends", "event: x\r\ndata: 1\r\rdata: 2\r\n\r\n",
			[]sseEvent{{event: "x", data: "1"}, {event: "message", data: "2"}}},
		{"comments are reported without data", ": ping\n\n",
			[]sseEvent{{comment: true}}},
		{"the id persists and an id with NUL is ignored", "id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n",
			[]sseEvent{{event: "message", id: "1", data: "a"}, {event: "message", id: "1", data: "b"}}},
		{"retry takes digits only", "retry: 1500\ndata: a\n\nretry: 1.5\ndata: b\n\n",
			[]sseEvent{{event: "message", data: "a", retry: 1500 * time.Millisecond}, {event: "message", data: "b"}}},
		{"an event without data is not dispatched", "event: snapshot\n\ndata: x\n\n",
			[]sseEvent{{event: "message", data: "x"}}},
		{"a BOM at the start is skipped", "\xEF\xBB\xBFdata: x\n\n",
			[]sseEvent{{event: "message", data: "x"}}},
		{"unknown fields are ignored", "foo: bar\ndata: x\n\n",
			[]sseEvent{{event: "message", data: "x"}}},
		{"a truncated last event is dropped", "data: whole\n\nevent: snapshot\ndata: {\"cut",
			[]sseEvent{{event: "message", data: "whole"}}},
	} {
		got, err := readAll(t, c.stream, 1<<20)
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: error %v", c.name, err)
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: event %d is %+v, want %+v", c.name, i, got[i], c.want[i])
			}
		}
	}
}

func TestTheSSEReaderBoundsLinesAndEvents(t *testing.T) {
	if _, err := readAll(t, "data: "+strings.Repeat("x", 100)+"\n\n", 50); !errors.Is(err, errEventTooLarge) {
		t.Errorf("long line: %v", err)
	}
	if _, err := readAll(t, strings.Repeat("data: "+strings.Repeat("x", 30)+"\n", 3)+"\n", 50); !errors.Is(err, errEventTooLarge) {
		t.Errorf("large event: %v", err)
	}
}

func FuzzSSEReader(f *testing.F) {
	f.Add("event: snapshot\nid: 1\ndata: {}\n\n: ping\n\n")
	f.Add("data: a\r\ndata: b\r\r\n\nretry: 10\n")
	f.Fuzz(func(t *testing.T, stream string) {
		r := newSSEReader(strings.NewReader(stream), 1<<12)
		for i := 0; i < len(stream)+2; i++ {
			ev, err := r.next()
			if err != nil {
				return
			}
			if len(ev.data) > 1<<12 {
				t.Fatalf("event of %d bytes above the limit", len(ev.data))
			}
		}
		t.Fatal("the reader does not make progress")
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add([]byte(`{"environment":"production","version":1,"file":{"flags":[{"key":"f","type":"boolean","variants":{"on":true},"environments":{"production":{"enabled":true,"default":{"variant":"on"}}}}]}}`))
	f.Add([]byte(`{"environment":"p","file":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeSnapshot(data, "")
		if err == nil && (st.snap == nil || st.env == "") {
			t.Fatal("accepted a snapshot without an environment or flags")
		}
	})
}
