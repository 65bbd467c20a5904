package flagmodel

import (
	"math"
	"strings"
	"unsafe"
)

// Interner stores decoded models compactly. A configuration of many flags
// repeats the same variant names, attributes, operators, clause values and
// target keys thousands of times, and a decoder allocates each occurrence
// separately, among its own short-lived data; a server that keeps the
// configuration keeps every copy, and each small kept object pins a span of
// the decoder's garbage. An Interner makes equal strings share one copy
// (clause and variant values that are strings or numbers share their boxed
// form too), and moves the slices and states of the models it is given into
// a few large arrays, so what is kept is also dense.
//
// Interning changes no value, only where values are stored: slices keep
// their lengths and contents (their capacity is their length, so appending
// to one copies it). The zero value is ready to use; an Interner is not safe
// for concurrent use. It holds every string it has seen, so keep it only
// while decoding one configuration.
type Interner struct {
	strs  map[string]string
	vals  map[any]any
	chunk []byte

	strings     slab[string]
	anys        slab[any]
	variants    slab[Variant]
	targets     slab[Target]
	prereqs     slab[Prerequisite]
	rules       slab[Rule]
	segRules    slab[SegmentRule]
	clauses     slab[Clause]
	weights     slab[Weight]
	states      slab[FlagState]
	serves      slab[Serve]
	trafficList slab[Traffic]
}

// slab hands out copies of slices from shared arrays. Arrays start small
// and double up to slabBytes, so a small file costs little and a large one
// lives in a few large allocations.
type slab[T any] struct {
	buf  []T
	next int
}

const slabBytes = 64 << 10

// copy returns a copy of xs in the slab, with its capacity its length.
func (s *slab[T]) copy(xs []T) []T {
	n := len(xs)
	if n == 0 {
		return xs
	}
	if cap(s.buf)-len(s.buf) < n {
		var zero T
		limit := max(1, slabBytes/int(unsafe.Sizeof(zero)))
		size := max(n, s.next, 8)
		s.buf = make([]T, 0, size)
		s.next = min(2*size, limit)
	}
	start := len(s.buf)
	s.buf = append(s.buf, xs...)
	return s.buf[start:len(s.buf):len(s.buf)]
}

// one returns a pointer to a copy of x in the slab.
func (s *slab[T]) one(x *T) *T {
	return &s.copy(unsafe.Slice(x, 1))[0]
}

// String returns the shared copy of s.
func (in *Interner) String(s string) string {
	if s == "" {
		return ""
	}
	if in.strs == nil {
		in.strs = map[string]string{}
	}
	if c, ok := in.strs[s]; ok {
		return c
	}
	c := in.copy(s)
	in.strs[c] = c
	return c
}

// copy returns a copy of s stored in the interner's current chunk.
// Decoders allocate strings among their own short-lived data, and one kept
// string pins a whole span of garbage; chunks keep the strings that stay
// together and dense.
func (in *Interner) copy(s string) string {
	if len(s) > chunkSize/8 {
		return strings.Clone(s)
	}
	if cap(in.chunk)-len(in.chunk) < len(s) {
		in.chunk = make([]byte, 0, chunkSize)
	}
	start := len(in.chunk)
	in.chunk = append(in.chunk, s...)
	return unsafe.String(&in.chunk[start], len(s))
}

// chunkSize is above the runtime's largest size class, so each chunk is
// a span of its own.
const chunkSize = 64 << 10

// stringList interns the strings of ss and returns a copy of it in a slab.
func (in *Interner) stringList(ss []string) []string {
	for i := range ss {
		ss[i] = in.String(ss[i])
	}
	return in.strings.copy(ss)
}

// value returns the shared box of a string or number value; other values
// are returned as they are.
func (in *Interner) value(v any) any {
	var key any
	switch x := v.(type) {
	case string:
		key = in.String(x)
	case float64:
		key = math.Float64bits(x) // 0 and -0 stay apart
	default:
		return v
	}
	if in.vals == nil {
		in.vals = map[any]any{}
	}
	if c, ok := in.vals[key]; ok {
		return c
	}
	if s, ok := key.(string); ok {
		v = s // box the shared string
	}
	in.vals[key] = v
	return v
}

// File interns every model of f.
func (in *Interner) File(f *File) {
	for i := range f.Environments {
		in.Environment(&f.Environments[i])
	}
	for i := range f.Segments {
		in.Segment(&f.Segments[i])
	}
	for i := range f.Flags {
		in.Flag(&f.Flags[i])
	}
	for i := range f.Metrics {
		m := &f.Metrics[i]
		m.Key = in.String(m.Key)
	}
}

// Environment interns an environment's strings.
func (in *Interner) Environment(e *Environment) {
	e.Key = in.String(e.Key)
	e.PrivateAttributes = in.stringList(e.PrivateAttributes)
	e.EventProperties = in.stringList(e.EventProperties)
	if h := e.Holdout; h != nil {
		h.Seed, h.BucketBy = in.String(h.Seed), in.String(h.BucketBy)
	}
}

// Segment interns a segment's strings.
func (in *Interner) Segment(s *Segment) {
	s.Key = in.String(s.Key)
	s.Included = in.stringList(s.Included)
	s.Excluded = in.stringList(s.Excluded)
	for i := range s.Rules {
		s.Rules[i].ID = in.String(s.Rules[i].ID)
		s.Rules[i].When = in.clauseList(s.Rules[i].When)
	}
	s.Rules = in.segRules.copy(s.Rules)
}

// Flag interns a flag's definition and its states (see FlagState). The
// Environments map is rebuilt only when one of its keys is not the shared
// copy yet.
func (in *Interner) Flag(f *Flag) {
	f.Key = in.String(f.Key)
	f.Kind = Kind(in.String(string(f.Kind)))
	f.Type = ValueType(in.String(string(f.Type)))
	f.Owner = in.String(f.Owner)
	f.Sunset = in.String(f.Sunset)
	f.Tags = in.stringList(f.Tags)
	for i := range f.Variants {
		v := &f.Variants[i]
		v.Key, v.Value = in.String(v.Key), in.value(v.Value)
	}
	f.Variants = in.variants.copy(f.Variants)
	for env, st := range f.Environments {
		if st != nil {
			f.Environments[env] = in.FlagState(st)
		}
	}
	rebuild := false
	for env := range f.Environments {
		if c, ok := in.strs[env]; !ok || !sameString(c, env) {
			rebuild = true
		}
	}
	if rebuild {
		states := make(map[string]*FlagState, len(f.Environments))
		for env, st := range f.Environments {
			states[in.String(env)] = st
		}
		f.Environments = states
	}
}

// sameString reports whether a and b are the same copy, not just equal.
func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// FlagState interns a flag state and returns its compact copy, for the
// caller to keep instead of st.
func (in *Interner) FlagState(st *FlagState) *FlagState {
	c := in.states.one(st)
	c.OffVariant = in.String(c.OffVariant)
	if len(c.Targets) > 0 {
		ts := make([]Target, len(c.Targets))
		for i, t := range c.Targets {
			ts[i] = Target{Variant: in.String(t.Variant), Keys: in.stringList(t.Keys)}
		}
		c.Targets = in.targets.copy(ts)
	}
	if len(c.Prerequisites) > 0 {
		ps := make([]Prerequisite, len(c.Prerequisites))
		for i, p := range c.Prerequisites {
			ps[i] = Prerequisite{Flag: in.String(p.Flag), Variants: in.stringList(p.Variants)}
		}
		c.Prerequisites = in.prereqs.copy(ps)
	}
	if len(c.Rules) > 0 {
		rs := make([]Rule, len(c.Rules))
		for i, r := range c.Rules {
			r.ID = in.String(r.ID)
			r.When = in.clauseList(r.When)
			if r.Traffic != nil {
				r.Traffic = in.trafficList.one(r.Traffic)
				r.Traffic.Seed, r.Traffic.BucketBy = in.String(r.Traffic.Seed), in.String(r.Traffic.BucketBy)
			}
			r.Serve = in.serve(r.Serve)
			rs[i] = r
		}
		c.Rules = in.rules.copy(rs)
	}
	if c.Default != nil {
		d := in.serve(*c.Default)
		c.Default = in.serves.one(&d)
	}
	return c
}

// clauseList interns clauses and returns their copy in a slab.
func (in *Interner) clauseList(cs []Clause) []Clause {
	if len(cs) == 0 {
		return cs
	}
	out := make([]Clause, len(cs))
	for i, c := range cs {
		c.Attribute = in.String(c.Attribute)
		c.Op = Operator(in.String(string(c.Op)))
		if len(c.Values) > 0 {
			vs := make([]any, len(c.Values))
			for j, v := range c.Values {
				vs[j] = in.value(v)
			}
			c.Values = in.anys.copy(vs)
		}
		out[i] = c
	}
	return in.clauses.copy(out)
}

func (in *Interner) serve(s Serve) Serve {
	s.Variant = in.String(s.Variant)
	s.BucketBy, s.Seed = in.String(s.BucketBy), in.String(s.Seed)
	s.Experiment, s.Rollout = in.String(s.Experiment), in.String(s.Rollout)
	if len(s.Split) > 0 {
		ws := make([]Weight, len(s.Split))
		for i, w := range s.Split {
			w.Variant = in.String(w.Variant)
			ws[i] = w
		}
		s.Split = in.weights.copy(ws)
	}
	return s
}
