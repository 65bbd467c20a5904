package eval

import (
	"fmt"
	"math/bits"
	"net/netip"
	"regexp"
	"sort"

	"github.com/cespare/xxhash/v2"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/semver"
	"github.com/weirhq/weir/internal/timestamp"
)

// Snapshot is one environment's flags and segments, prepared for
// evaluation. It is immutable and safe for concurrent use.
type Snapshot struct {
	env     string
	private []string
	// holdout, when set, keeps its share of units out of experiments.
	holdout  *holdout
	flags    map[string]*flag
	keys     []string
	segments map[string]*segment
	// regexps shares one compiled expression per distinct pattern
	// (*regexp.Regexp is safe for concurrent use). Only used while preparing.
	regexps map[string]*regexp.Regexp
}

type flag struct {
	key      string
	typ      flagmodel.ValueType
	variants []variant
	enabled  bool
	off      int32 // index into variants, or -1
	targets  map[string]int
	prereqs  []prereq
	rules    []rule
	def      serve
	hasDef   bool
	static   bool
	version  int64
	// Prepared results (see served).
	disabled     *served
	prereqFailed *served
	noDefault    *served
	targeted     []served // by variant index
	// fixed is the result every context gets, when the flag's outcome
	// cannot depend on the context (disabled, or a static single variant).
	fixed *served
}

type variant struct {
	name  string
	value any
}

type prereq struct {
	key      string
	variants []string // the prerequisite variants that satisfy it
	flag     *flag
	ok       []bool // by variant index of the prerequisite flag
}

// resolve links the prerequisite to its prepared flag and turns the
// accepted variant names into a set of the flag's variant indexes.
func (p *prereq) resolve(target *flag) {
	p.flag, p.ok = target, nil
	if target == nil {
		return
	}
	p.ok = make([]bool, len(target.variants))
	for _, name := range p.variants {
		for i, v := range target.variants {
			if v.name == name {
				p.ok[i] = true
			}
		}
	}
}

type rule struct {
	id      string
	index   int
	clauses []clause
	// traffic, when set, admits only units whose bucket is in its range.
	traffic *traffic
	serve   serve
}

// bucketer hashes a unit's value under a seed: the bucketing function of
// docs/bucketing.md, shared by splits, traffic ranges and holdouts.
type bucketer struct {
	bucketBy       string
	byTargetingKey bool
	// prefix is the hash state after writing seed + ".", copied on every
	// evaluation so only the unit's value is hashed.
	prefix xxhash.Digest
}

func newBucketer(seed, bucketBy string) bucketer {
	if bucketBy == "" {
		bucketBy = flagmodel.TargetingKey
	}
	b := bucketer{bucketBy: bucketBy, byTargetingKey: bucketBy == flagmodel.TargetingKey}
	b.prefix.Reset()
	b.prefix.WriteString(seed)
	b.prefix.WriteString(".")
	return b
}

// traffic is a rule's range of buckets [from, to).
type traffic struct {
	bucketer
	from, to uint32
}

// holdout is an environment's held-out share: buckets below weight.
type holdout struct {
	bucketer
	weight uint32
}

// serve is one variant (split == nil) or a split.
type serve struct {
	variant int
	single  *served
	split   *split
}

type split struct {
	bucketer
	// upper[i] is the exclusive upper bucket bound of variants[i].
	upper    []uint32
	variants []int
	results  []served // by position in upper
	missing  *served  // the bucketBy value is missing
	// alloc is set when the split serves an experiment or a rollout.
	alloc *Allocation
	// heldOut is what a default split serving an experiment gives units in
	// the environment's holdout: its first variant, as DEFAULT, no exposure.
	heldOut *served
}

type segment struct {
	key      string
	included map[string]struct{}
	excluded map[string]struct{}
	rules    [][]clause
}

type opcode uint8

const (
	opIn opcode = iota
	opStartsWith
	opEndsWith
	opContains
	opMatches
	opLt
	opLte
	opGt
	opGte
	opSemverEq
	opSemverLt
	opSemverLte
	opSemverGt
	opSemverGte
	opBefore
	opAfter
	opInCIDR
	opExists
	opInSegment
)

var opcodes = map[flagmodel.Operator]opcode{
	flagmodel.OpIn: opIn, flagmodel.OpStartsWith: opStartsWith, flagmodel.OpEndsWith: opEndsWith,
	flagmodel.OpContains: opContains, flagmodel.OpMatches: opMatches,
	flagmodel.OpLt: opLt, flagmodel.OpLte: opLte, flagmodel.OpGt: opGt, flagmodel.OpGte: opGte,
	flagmodel.OpSemverEq: opSemverEq, flagmodel.OpSemverLt: opSemverLt, flagmodel.OpSemverLte: opSemverLte,
	flagmodel.OpSemverGt: opSemverGt, flagmodel.OpSemverGte: opSemverGte,
	flagmodel.OpBefore: opBefore, flagmodel.OpAfter: opAfter, flagmodel.OpInCIDR: opInCIDR,
	flagmodel.OpExists: opExists, flagmodel.OpInSegment: opInSegment,
}

// smallSet is the list length up to which a linear scan beats a map lookup
// for `in` string lists (measured: 10 two-letter values, 7th matching, scan
// ~8 ns against ~13 ns for a map lookup).
const smallSet = 16

type clause struct {
	attribute      string
	byTargetingKey bool
	op             opcode
	opName         flagmodel.Operator
	negate         bool

	strs     []string            // in (short lists), startsWith, endsWith, contains
	strSet   map[string]struct{} // in (long lists)
	nums     []float64           // in, lt, lte, gt, gte
	hasTrue  bool                // in
	hasFalse bool                // in
	regexps  []*regexp.Regexp
	versions []semver.Version
	times    []int64 // Unix milliseconds
	prefixes []netip.Prefix
	segments []*segment
}

// Prepare validates f and compiles environment env of it into a Snapshot.
// Flags without a state in env are kept and evaluate as disabled. It returns
// the *flagmodel.ValidationError when f is invalid.
func Prepare(f *flagmodel.File, env string) (*Snapshot, error) {
	compiled, err := f.ValidateCompiled()
	if err != nil {
		return nil, err
	}
	return prepareValid(f, env, compiled)
}

// PrepareAll validates f once and prepares a Snapshot for every environment
// it declares or that any flag configures.
func PrepareAll(f *flagmodel.File) (map[string]*Snapshot, error) {
	compiled, err := f.ValidateCompiled()
	if err != nil {
		return nil, err
	}
	envs := map[string]bool{}
	for _, e := range f.Environments {
		envs[e.Key] = true
	}
	for _, fl := range f.Flags {
		for e := range fl.Environments {
			envs[e] = true
		}
	}
	out := make(map[string]*Snapshot, len(envs))
	for e := range envs {
		s, err := prepareValid(f, e, compiled)
		if err != nil {
			return nil, err
		}
		out[e] = s
	}
	return out, nil
}

func prepareValid(f *flagmodel.File, env string, compiled *flagmodel.Compiled) (*Snapshot, error) {
	s := &Snapshot{
		env:      env,
		flags:    make(map[string]*flag, len(f.Flags)),
		segments: make(map[string]*segment, len(f.Segments)),
		keys:     make([]string, 0, len(f.Flags)),
		regexps:  compiled.Regexps,
	}
	for _, e := range f.Environments {
		if e.Key == env {
			s.private = append([]string(nil), e.PrivateAttributes...)
			if h := e.Holdout; h != nil && h.Weight > 0 {
				seed := h.Seed
				if seed == "" {
					seed = "holdout." + env
				}
				s.holdout = &holdout{bucketer: newBucketer(seed, h.BucketBy), weight: uint32(h.Weight)}
			}
		}
	}
	// Segments first (they may reference each other, acyclically), then
	// flags, then prerequisite links.
	for i := range f.Segments {
		s.segments[f.Segments[i].Key] = &segment{key: f.Segments[i].Key}
	}
	for i := range f.Segments {
		if err := s.prepareSegment(&f.Segments[i]); err != nil {
			return nil, err
		}
	}
	for i := range f.Flags {
		fl, err := s.prepareFlag(&f.Flags[i], env)
		if err != nil {
			return nil, fmt.Errorf("flag %q: %w", f.Flags[i].Key, err)
		}
		s.flags[fl.key] = fl
		s.keys = append(s.keys, fl.key)
	}
	for _, fl := range s.flags {
		for i := range fl.prereqs {
			fl.prereqs[i].resolve(s.flags[fl.prereqs[i].key])
		}
	}
	sort.Strings(s.keys)
	s.regexps = nil
	return s, nil
}

func (s *Snapshot) prepareSegment(m *flagmodel.Segment) error {
	seg := s.segments[m.Key]
	seg.included = toSet(m.Included)
	seg.excluded = toSet(m.Excluded)
	for _, r := range m.Rules {
		cs, err := s.prepareClauses(r.When)
		if err != nil {
			return fmt.Errorf("segment %q: %w", m.Key, err)
		}
		seg.rules = append(seg.rules, cs)
	}
	return nil
}

func toSet(keys []string) map[string]struct{} {
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		m[k] = struct{}{}
	}
	return m
}

func (s *Snapshot) prepareFlag(m *flagmodel.Flag, env string) (*flag, error) {
	fl := &flag{key: m.Key, typ: m.Type, off: -1}
	index := make(map[string]int, len(m.Variants))
	for i, v := range m.Variants {
		fl.variants = append(fl.variants, variant{name: v.Key, value: v.Value})
		index[v.Key] = i
	}
	st := m.Environments[env]
	if st == nil {
		fl.prepareResults()
		return fl, nil // not configured here: disabled, no off variant
	}
	fl.enabled = st.Enabled
	fl.version = st.Version
	if st.OffVariant != "" {
		fl.off = int32(index[st.OffVariant])
	}
	for _, t := range st.Targets {
		if fl.targets == nil {
			fl.targets = map[string]int{}
		}
		for _, k := range t.Keys {
			fl.targets[k] = index[t.Variant]
		}
	}
	for _, p := range st.Prerequisites {
		// Linked and resolved once every flag is prepared (resolve).
		fl.prereqs = append(fl.prereqs, prereq{key: p.Flag, variants: p.Variants})
	}
	for i := range st.Rules {
		r := &st.Rules[i]
		cs, err := s.prepareClauses(r.When)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i, err)
		}
		id := r.ID
		if id == "" {
			id = fmt.Sprintf("rules[%d]", i)
		}
		pr := rule{id: id, index: i, clauses: cs, serve: prepareServe(&r.Serve, m.Key, index)}
		if t := r.Traffic; t != nil {
			pr.traffic = &traffic{bucketer: newBucketer(t.Seed, t.BucketBy), from: uint32(t.From), to: uint32(t.To)}
		}
		fl.rules = append(fl.rules, pr)
	}
	if st.Default != nil {
		fl.def = prepareServe(st.Default, m.Key, index)
		fl.hasDef = true
	}
	fl.static = len(fl.targets) == 0 && len(fl.rules) == 0
	fl.prepareResults()
	return fl, nil
}

func prepareServe(m *flagmodel.Serve, flagKey string, index map[string]int) serve {
	if !m.IsSplit() {
		return serve{variant: index[m.Variant]}
	}
	seed := m.Seed
	if seed == "" {
		seed = flagKey
	}
	sp := &split{bucketer: newBucketer(seed, m.BucketBy)}
	if m.Experiment != "" || m.Rollout != "" {
		sp.alloc = &Allocation{Experiment: m.Experiment, Rollout: m.Rollout, Unit: sp.bucketBy}
	}
	var upper uint32
	for _, w := range m.Split {
		if w.Weight == 0 {
			continue // a zero-weight variant owns no bucket
		}
		upper += uint32(w.Weight)
		sp.upper = append(sp.upper, upper)
		sp.variants = append(sp.variants, index[w.Variant])
	}
	return serve{variant: -1, split: sp}
}

func (s *Snapshot) prepareClauses(ms []flagmodel.Clause) ([]clause, error) {
	out := make([]clause, 0, len(ms))
	for _, m := range ms {
		c := clause{
			attribute:      m.Attribute,
			byTargetingKey: m.Attribute == flagmodel.TargetingKey,
			op:             opcodes[m.Op],
			opName:         m.Op,
			negate:         m.Negate,
		}
		for _, v := range m.Values {
			if err := s.addClauseValue(&c, v); err != nil {
				return nil, err
			}
		}
		if c.op == opIn && len(c.strs) > smallSet {
			c.strSet = toSet(c.strs)
			c.strs = nil
		}
		out = append(out, c)
	}
	return out, nil
}

// addClauseValue compiles one validated clause value.
func (s *Snapshot) addClauseValue(c *clause, v any) error {
	switch c.op {
	case opIn:
		switch x := v.(type) {
		case string:
			c.strs = append(c.strs, x)
		case float64:
			c.nums = append(c.nums, x)
		case bool:
			if x {
				c.hasTrue = true
			} else {
				c.hasFalse = true
			}
		}
	case opStartsWith, opEndsWith, opContains:
		c.strs = append(c.strs, v.(string))
	case opMatches:
		pattern := v.(string)
		re := s.regexps[pattern]
		if re == nil {
			var err error
			if re, err = flagmodel.CompileRegexp(pattern); err != nil {
				return err
			}
			s.regexps[pattern] = re
		}
		c.regexps = append(c.regexps, re)
	case opLt, opLte, opGt, opGte:
		c.nums = append(c.nums, v.(float64))
	case opSemverEq, opSemverLt, opSemverLte, opSemverGt, opSemverGte:
		ver, ok := semver.Parse(v.(string))
		if !ok {
			return fmt.Errorf("invalid semantic version %q", v)
		}
		c.versions = append(c.versions, ver)
	case opBefore, opAfter:
		switch x := v.(type) {
		case string:
			ms, ok := timestamp.ParseRFC3339(x)
			if !ok {
				return fmt.Errorf("invalid date-time %q", x)
			}
			c.times = append(c.times, ms)
		case float64:
			c.times = append(c.times, int64(x))
		}
	case opInCIDR:
		p, err := flagmodel.ParseCIDR(v.(string))
		if err != nil {
			return err
		}
		c.prefixes = append(c.prefixes, p)
	case opInSegment:
		seg := s.segments[v.(string)]
		if seg == nil {
			return fmt.Errorf("unknown segment %q", v)
		}
		c.segments = append(c.segments, seg)
	}
	return nil
}

// Environment returns the key of the snapshot's environment.
func (s *Snapshot) Environment() string { return s.env }

// PrivateAttributes returns the environment's private attribute names.
func (s *Snapshot) PrivateAttributes() []string { return s.private }

// Keys returns every flag key, sorted.
func (s *Snapshot) Keys() []string { return s.keys }

// Has reports whether the snapshot holds flag key.
func (s *Snapshot) Has(key string) bool { _, ok := s.flags[key]; return ok }

// Type returns a flag's value type, or "" when it does not exist.
func (s *Snapshot) Type(key string) flagmodel.ValueType {
	if fl := s.flags[key]; fl != nil {
		return fl.typ
	}
	return ""
}

// Bucket returns the bucket, in [0, 100000), of value under seed: the high
// 64 bits of XXH64(seed + "." + value, 0) × 100000. It is the bucketing
// contract of docs/bucketing.md.
func Bucket(seed, value string) uint32 {
	var d xxhash.Digest
	d.Reset()
	d.WriteString(seed)
	d.WriteString(".")
	d.WriteString(value)
	return scale(d.Sum64())
}

func scale(h uint64) uint32 {
	hi, _ := bits.Mul64(h, flagmodel.WeightScale)
	return uint32(hi)
}

// prepareResults builds every result the flag can serve.
func (fl *flag) prepareResults() {
	mk := func(variant int, reason Reason, code ErrorCode, msg string, r *rule) *served {
		sv := &served{variant: int32(variant), Result: Result{Reason: reason, ErrorCode: code, ErrorMessage: msg,
			RuleIndex: -1, Version: fl.version}}
		if variant >= 0 {
			sv.Variant, sv.Value = fl.variants[variant].name, fl.variants[variant].value
		}
		if r != nil {
			sv.RuleID, sv.RuleIndex = r.id, int32(r.index)
		}
		return sv
	}
	// Only the results a flag can actually reach are built: a snapshot
	// holds every flag of every environment, most of them simple.
	fl.disabled = mk(int(fl.off), ReasonDisabled, 0, "", nil)
	if len(fl.prereqs) > 0 {
		fl.prereqFailed = mk(int(fl.off), ReasonPrerequisiteFailed, 0, "", nil)
	}
	hasSplit := fl.def.split != nil
	for i := range fl.rules {
		hasSplit = hasSplit || fl.rules[i].serve.split != nil
	}
	if !fl.hasDef || hasSplit { // a split that misses every bucket cannot happen, but is covered
		fl.noDefault = mk(-1, ReasonError, ErrorGeneral, "the flag has no default serve", nil)
	}
	if fl.targets != nil {
		fl.targeted = make([]served, len(fl.variants))
		for i := range fl.variants {
			fl.targeted[i] = *mk(i, ReasonTargetingMatch, 0, "", nil)
		}
	}
	prep := func(sv *serve, single Reason, r *rule) {
		if sv.split == nil {
			sv.single = mk(sv.variant, single, 0, "", r)
			return
		}
		sp := sv.split
		sp.results = make([]served, len(sp.variants))
		for i, v := range sp.variants {
			sp.results[i] = *mk(v, ReasonSplit, 0, "", r)
			sp.results[i].Allocation = sp.alloc
		}
		sp.missing = mk(-1, ReasonError, ErrorTargetingKeyMissing, sp.missingMessage(), r)
		if r == nil && sp.alloc != nil && sp.alloc.Experiment != "" && len(sp.variants) > 0 {
			sp.heldOut = mk(sp.variants[0], ReasonDefault, 0, "", nil)
		}
	}
	for i := range fl.rules {
		prep(&fl.rules[i].serve, ReasonTargetingMatch, &fl.rules[i])
	}
	if fl.hasDef {
		if fl.static {
			prep(&fl.def, ReasonStatic, nil)
		} else {
			prep(&fl.def, ReasonDefault, nil)
		}
	}
	switch {
	case !fl.enabled:
		fl.fixed = fl.disabled
	case fl.static && len(fl.prereqs) == 0 && fl.hasDef && fl.def.split == nil:
		fl.fixed = fl.def.single
	}
}
