package sdk

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"
)

// sseEvent is one dispatched Server-Sent Event, or a comment (which carries
// no data but proves the connection is alive).
type sseEvent struct {
	comment bool
	event   string // "message" when the stream names no type
	id      string // the last event ID seen on the stream
	data    string
	retry   time.Duration // >0 when a retry field came with this event
}

var errEventTooLarge = errors.New("server-sent event larger than the limit")

// sseReader parses a text/event-stream as the HTML standard defines it:
// lines end in CRLF, LF or CR; fields are "name: value" (one optional space
// after the colon); data lines accumulate with "\n" between them; a blank
// line dispatches; lines starting with ":" are comments; an id containing
// NUL is ignored; retry takes only ASCII digits.
type sseReader struct {
	r       *bufio.Reader
	max     int // bound on one line and on one event's data
	line    []byte
	skipLF  bool // the previous line ended in CR: a following LF is part of it
	started bool
	lastID  string
	event   string
	data    []byte
	retry   time.Duration
}

func newSSEReader(r io.Reader, max int) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next event or comment. A partial event at the end of the
// stream is never returned: the error is.
func (s *sseReader) next() (sseEvent, error) {
	for {
		line, err := s.readLine()
		if err != nil {
			return sseEvent{}, err
		}
		if !s.started {
			s.started = true
			line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
		}
		if len(line) == 0 {
			if len(s.data) == 0 {
				s.event = ""
				if s.retry > 0 {
					ev := sseEvent{comment: true, retry: s.retry}
					s.retry = 0
					return ev, nil
				}
				continue
			}
			ev := sseEvent{event: s.event, id: s.lastID, data: string(s.data[:len(s.data)-1]), retry: s.retry}
			if ev.event == "" {
				ev.event = "message"
			}
			s.event, s.data, s.retry = "", s.data[:0], 0
			return ev, nil
		}
		if line[0] == ':' {
			return sseEvent{comment: true}, nil
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			s.event = string(value)
		case "data":
			if len(s.data)+len(value)+1 > s.max {
				return sseEvent{}, errEventTooLarge
			}
			s.data = append(s.data, value...)
			s.data = append(s.data, '\n')
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				s.lastID = string(value)
			}
		case "retry":
			if ms, err := strconv.ParseUint(string(value), 10, 31); err == nil && isDigits(value) {
				s.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// readLine returns the next line without its terminator. It scans what is
// buffered instead of reading byte by byte, since snapshot events can be
// megabytes long, and never waits for a byte it does not need: after a CR
// it returns at once and drops a following LF later.
func (s *sseReader) readLine() ([]byte, error) {
	s.line = s.line[:0]
	for {
		if s.r.Buffered() == 0 {
			if _, err := s.r.Peek(1); err != nil {
				if err == io.EOF && len(s.line) > 0 {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
		chunk, _ := s.r.Peek(s.r.Buffered())
		if s.skipLF {
			s.skipLF = false
			if chunk[0] == '\n' {
				_, _ = s.r.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(chunk, "\r\n")
		n := i
		if i < 0 {
			n = len(chunk)
		}
		if len(s.line)+n > s.max {
			return nil, errEventTooLarge
		}
		s.line = append(s.line, chunk[:n]...)
		if i < 0 {
			_, _ = s.r.Discard(n)
			continue
		}
		s.skipLF = chunk[i] == '\r'
		_, _ = s.r.Discard(i + 1)
		return s.line, nil
	}
}
