package flagmodel

import (
	"math"
	"strings"
	"unsafe"
)

// Interner makes equal strings of decoded models share one copy. A
// configuration of many flags repeats the same variant names, attributes,
// operators, clause values and target keys thousands of times, and a decoder
// allocates each occurrence separately; a server that keeps the
// configuration keeps every copy. Clause and variant values that are
// strings or numbers share their boxed form too.
//
// Interning changes no value, only where equal values are stored. The zero
// value is ready to use; an Interner is not safe for concurrent use. It holds
// every string it has seen, so keep it only while decoding one
// configuration.
type Interner struct {
	strs  map[string]string
	vals  map[any]any
	chunk []byte
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

func (in *Interner) strings(ss []string) {
	for i := range ss {
		ss[i] = in.String(ss[i])
	}
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
	in.strings(e.PrivateAttributes)
	in.strings(e.EventProperties)
	if h := e.Holdout; h != nil {
		h.Seed, h.BucketBy = in.String(h.Seed), in.String(h.BucketBy)
	}
}

// Segment interns a segment's strings.
func (in *Interner) Segment(s *Segment) {
	s.Key = in.String(s.Key)
	in.strings(s.Included)
	in.strings(s.Excluded)
	for i := range s.Rules {
		s.Rules[i].ID = in.String(s.Rules[i].ID)
		in.clauses(s.Rules[i].When)
	}
}

// Flag interns a flag's definition and its states. The Environments map is
// rebuilt only when one of its keys is not the shared copy yet.
func (in *Interner) Flag(f *Flag) {
	f.Key = in.String(f.Key)
	f.Kind = Kind(in.String(string(f.Kind)))
	f.Type = ValueType(in.String(string(f.Type)))
	f.Owner = in.String(f.Owner)
	f.Sunset = in.String(f.Sunset)
	in.strings(f.Tags)
	for i := range f.Variants {
		v := &f.Variants[i]
		v.Key, v.Value = in.String(v.Key), in.value(v.Value)
	}
	for _, st := range f.Environments {
		if st != nil {
			in.FlagState(st)
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

// FlagState interns a flag state's strings.
func (in *Interner) FlagState(st *FlagState) {
	st.OffVariant = in.String(st.OffVariant)
	for i := range st.Targets {
		st.Targets[i].Variant = in.String(st.Targets[i].Variant)
		in.strings(st.Targets[i].Keys)
	}
	for i := range st.Prerequisites {
		p := &st.Prerequisites[i]
		p.Flag = in.String(p.Flag)
		in.strings(p.Variants)
	}
	for i := range st.Rules {
		r := &st.Rules[i]
		r.ID = in.String(r.ID)
		in.clauses(r.When)
		if t := r.Traffic; t != nil {
			t.Seed, t.BucketBy = in.String(t.Seed), in.String(t.BucketBy)
		}
		in.serve(&r.Serve)
	}
	if st.Default != nil {
		in.serve(st.Default)
	}
}

func (in *Interner) clauses(cs []Clause) {
	for i := range cs {
		c := &cs[i]
		c.Attribute = in.String(c.Attribute)
		c.Op = Operator(in.String(string(c.Op)))
		for j := range c.Values {
			c.Values[j] = in.value(c.Values[j])
		}
	}
}

func (in *Interner) serve(s *Serve) {
	s.Variant = in.String(s.Variant)
	s.BucketBy, s.Seed = in.String(s.BucketBy), in.String(s.Seed)
	s.Experiment, s.Rollout = in.String(s.Experiment), in.String(s.Rollout)
	for i := range s.Split {
		s.Split[i].Variant = in.String(s.Split[i].Variant)
	}
}
