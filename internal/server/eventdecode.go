package server

import (
	"strconv"
	"time"

	"github.com/weirhq/weir/event"
)

// decodeBatchFast decodes the common event batch body without reflection:
// encoding/json took some 5 µs of the intake's 7 µs per event, which
// capped a core at about 140,000 events a second before the database did
// any work. It reports false for anything unusual (escapes in strings,
// duplicate or unknown members, names in another case, null where a value
// belongs, numbers encoding/json would refuse, more than lim.MaxEvents
// events, any doubt) and the caller then decodes with event.Decode, which
// also words the errors. When it reports true, the batch is exactly what
// event.Decode would have returned (FuzzBatchFastDecodeMatchesEventDecode
// checks this).
//
// Strings are copied out of b, which the caller reuses; the few distinct
// ones that recur in every event (kinds, flag keys, variants, reasons,
// metric and property names) are interned, per batch without a lock and
// across batches in names.
func decodeBatchFast(b []byte, lim event.Limits, names *nameTable) (*event.Batch, bool) {
	d := flatDecoder{b: b, names: names, local: make(map[string]string, 16)}
	var batch event.Batch
	d.space()
	if !d.consume('{') {
		return nil, false
	}
	var seen uint8
	first := true
	for {
		d.space()
		if d.consume('}') {
			break
		}
		if !first && (!d.consume(',') || !d.spaced()) {
			return nil, false
		}
		first = false
		key, ok := d.rawString()
		if !ok {
			return nil, false
		}
		d.space()
		if !d.consume(':') {
			return nil, false
		}
		d.space()
		var bit uint8
		switch string(key) {
		case "id":
			bit = 1
			batch.ID, ok = d.str()
		case "sentAt":
			bit = 2
			batch.SentAt, ok = d.time()
		case "dropped":
			bit = 4
			batch.Dropped, ok = d.integer()
		case "sdk":
			bit = 8
			batch.SDK, ok = d.str()
		case "events":
			bit = 16
			batch.Events, ok = d.events(lim, len(b))
		default:
			return nil, false
		}
		if !ok || seen&bit != 0 {
			return nil, false
		}
		seen |= bit
	}
	if !d.end() {
		return nil, false
	}
	return &batch, true
}

// spaced skips white space and reports true, so it chains after consume.
func (d *flatDecoder) spaced() bool {
	d.space()
	return true
}

// events decodes the events array. size is the body's length, from which
// the number of events is guessed to size the slice once.
func (d *flatDecoder) events(lim event.Limits, size int) ([]event.Event, bool) {
	if !d.consume('[') {
		return nil, false
	}
	events := make([]event.Event, 0, min(size/128+1, max(lim.MaxEvents, 1)))
	d.space()
	if d.consume(']') {
		return events, true
	}
	for {
		if lim.MaxEvents > 0 && len(events) == lim.MaxEvents {
			return nil, false // event.Decode reports ErrTooLarge
		}
		events = append(events, event.Event{})
		if !d.event(&events[len(events)-1]) {
			return nil, false
		}
		d.space()
		if d.consume(']') {
			return events, true
		}
		if !d.consume(',') {
			return nil, false
		}
		d.space()
	}
}

// Bits of the event members decodeBatchFast has seen.
const (
	seenKind = 1 << iota
	seenTime
	seenUnit
	seenFlag
	seenVariant
	seenFlagVersion
	seenReason
	seenExperiment
	seenRollout
	seenName
	seenValue
	seenProperties
)

func (d *flatDecoder) event(e *event.Event) bool {
	if !d.consume('{') {
		return false
	}
	var seen uint16
	first := true
	for {
		d.space()
		if d.consume('}') {
			return true
		}
		if !first && (!d.consume(',') || !d.spaced()) {
			return false
		}
		first = false
		key, ok := d.rawString()
		if !ok {
			return false
		}
		d.space()
		if !d.consume(':') {
			return false
		}
		d.space()
		var bit uint16
		switch string(key) {
		case "kind":
			bit = seenKind
			var k string
			k, ok = d.name()
			e.Kind = event.Kind(k)
		case "time":
			bit = seenTime
			e.Time, ok = d.time()
		case "unit":
			bit = seenUnit
			e.Unit, ok = d.str() // units vary: not interned
		case "flag":
			bit = seenFlag
			e.Flag, ok = d.name()
		case "variant":
			bit = seenVariant
			e.Variant, ok = d.name()
		case "flagVersion":
			bit = seenFlagVersion
			e.FlagVersion, ok = d.integer()
		case "reason":
			bit = seenReason
			e.Reason, ok = d.name()
		case "experiment":
			bit = seenExperiment
			e.Experiment, ok = d.name()
		case "rollout":
			bit = seenRollout
			e.Rollout, ok = d.name()
		case "name":
			bit = seenName
			e.Name, ok = d.name()
		case "value":
			bit = seenValue
			if !d.literal("null") {
				var f float64
				if f, ok = d.float(); ok {
					e.Value = &f
				}
			}
		case "properties":
			bit = seenProperties
			if !d.literal("null") {
				e.Properties = make(map[string]any, 4)
				ok = d.object(e.Properties)
			}
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}

// time decodes an RFC 3339 string as time.Time's UnmarshalJSON does (it is
// what encoding/json calls).
func (d *flatDecoder) time() (time.Time, bool) {
	start := d.i
	if _, ok := d.rawString(); !ok {
		return time.Time{}, false
	}
	var t time.Time
	if err := t.UnmarshalJSON(d.b[start:d.i]); err != nil {
		return time.Time{}, false
	}
	return t, true
}

// integer decodes a JSON integer into an int64, as encoding/json does: no
// fraction, no exponent, in range.
func (d *flatDecoder) integer() (int64, bool) {
	start := d.i
	d.consume('-')
	digits := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
		digits++
	}
	if digits == 0 || (digits > 1 && d.b[d.i-digits] == '0') {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 64)
	return n, err == nil
}
