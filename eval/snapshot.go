package eval

import (
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"regexp"
	"sort"
	"strconv"

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
	// results shares equal prepared results. Only used while preparing.
	results *interner
}

// flag is one flag prepared for one environment. Flags without a state in
// the environment share one flag per value type (unconfiguredFlag), so they
// cost only their entry in Snapshot.flags.
type flag struct {
	typ      flagmodel.ValueType
	variants []variant
	targets  *targets
	prereqs  []prereq
	rules    []rule
	def      serve
	version  int64
	off      int32 // index into variants, or -1
	enabled  bool
	hasDef   bool
	// Prepared results (see served); only those the flag can reach.
	prereqFailed *served
	noDefault    *served
	// fixed is the result every context gets, when the flag's outcome
	// cannot depend on the context (disabled, or a static single variant).
	// A disabled flag's fixed result is its disabled result.
	fixed *served
}

// unconfigured holds, per value type, the flag that evaluates a flag in an
// environment where it has no state: disabled, no off variant, version 0.
// Such a flag needs neither its key nor its variants, so every one of them
// shares it. It is never modified.
var unconfigured = func() map[flagmodel.ValueType]*flag {
	m := make(map[flagmodel.ValueType]*flag, len(flagmodel.ValueTypes))
	for _, typ := range flagmodel.ValueTypes {
		m[typ] = newUnconfigured(typ)
	}
	return m
}()

func unconfiguredFlag(typ flagmodel.ValueType) *flag {
	if fl := unconfigured[typ]; fl != nil {
		return fl
	}
	return newUnconfigured(typ)
}

func newUnconfigured(typ flagmodel.ValueType) *flag {
	return &flag{typ: typ, off: -1, fixed: &served{variant: -1, Result: Result{Reason: ReasonDisabled, RuleIndex: -1}}}
}

// targets maps individually targeted keys to their results. A short list
// is scanned, as short `in` lists are (see smallSet); a long one is a map.
type targets struct {
	short []target
	set   map[string]*served
}

type target struct {
	key    string
	served *served
}

func (ts *targets) empty() bool { return ts.set == nil && len(ts.short) == 0 }

// lookup returns the result of a targeted key, or nil.
func (ts *targets) lookup(key string) *served {
	if ts.set != nil {
		return ts.set[key]
	}
	for i := range ts.short {
		if x := ts.short[i].key; len(x) == len(key) && (len(x) == 0 || x[0] == key[0]) && x == key {
			return ts.short[i].served
		}
	}
	return nil
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

// serve is one variant's result (single) or a split.
type serve struct {
	single *served
	split  *split
}

type split struct {
	bucketer
	// ranges are the variants that own buckets, in declared order.
	ranges  []bucketRange
	missing *served // the bucketBy value is missing
	// alloc is set when the split serves an experiment or a rollout.
	alloc *Allocation
	// heldOut is what a default split serving an experiment gives units in
	// the environment's holdout: its first variant, as DEFAULT, no exposure.
	heldOut *served
}

// bucketRange serves its result to the buckets below upper that no earlier
// range owns.
type bucketRange struct {
	upper  uint32
	served *served
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

// clause is a prepared clause. It keeps inline only what the most common
// operators read (the attribute and a string list); every other operand
// list lives in operands, shared by all clauses that have none.
type clause struct {
	attribute string
	strs      []string // in (short lists), startsWith, endsWith, contains
	more      *operands
	op        opcode
	negate    bool
	// byTargetingKey: the attribute is targetingKey, read from its field.
	byTargetingKey bool
	hasTrue        bool // in
	hasFalse       bool // in
}

type operands struct {
	strSet   map[string]struct{} // in (long lists)
	nums     []float64           // in, lt, lte, gt, gte
	regexps  []*regexp.Regexp
	versions []semver.Version
	times    []int64 // Unix milliseconds
	prefixes []netip.Prefix
	segments []*segment
}

func (o *operands) empty() bool {
	return o.strSet == nil && o.nums == nil && o.regexps == nil && o.versions == nil &&
		o.times == nil && o.prefixes == nil && o.segments == nil
}

// noOperands is the operands of every clause that needs none beyond strs,
// so matching never checks for nil. It is never modified.
var noOperands operands

// opNames gives each opcode its operator's name, for traces.
var opNames = func() (names [opInSegment + 1]flagmodel.Operator) {
	for name, op := range opcodes {
		names[op] = name
	}
	return names
}()

// Prepare validates f and compiles environment env of it into a Snapshot.
// Flags without a state in env are kept and evaluate as disabled. It returns
// the *flagmodel.ValidationError when f is invalid.
func Prepare(f *flagmodel.File, env string) (*Snapshot, error) {
	compiled, err := f.ValidateCompiled()
	if err != nil {
		return nil, err
	}
	return prepareValid(f, env, compiled, newInterner())
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
	results := newInterner() // environments share equal results too
	for e := range envs {
		s, err := prepareValid(f, e, compiled, results)
		if err != nil {
			return nil, err
		}
		out[e] = s
	}
	return out, nil
}

func prepareValid(f *flagmodel.File, env string, compiled *flagmodel.Compiled, results *interner) (*Snapshot, error) {
	s := &Snapshot{
		env:      env,
		flags:    make(map[string]*flag, len(f.Flags)),
		segments: make(map[string]*segment, len(f.Segments)),
		keys:     make([]string, 0, len(f.Flags)),
		regexps:  compiled.Regexps,
		results:  results,
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
		s.flags[f.Flags[i].Key] = fl
		s.keys = append(s.keys, f.Flags[i].Key)
	}
	for _, fl := range s.flags {
		for i := range fl.prereqs {
			fl.prereqs[i].resolve(s.flags[fl.prereqs[i].key])
		}
	}
	sort.Strings(s.keys)
	s.regexps, s.results = nil, nil
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
	st := m.Environments[env]
	if st == nil {
		return unconfiguredFlag(m.Type), nil // not configured here: disabled, no off variant
	}
	fl := &flag{typ: m.Type, off: -1, enabled: st.Enabled, version: st.Version}
	fl.variants = make([]variant, len(m.Variants))
	index := make(map[string]int32, len(m.Variants))
	for i, v := range m.Variants {
		fl.variants[i] = variant{name: v.Key, value: v.Value}
		index[v.Key] = int32(i)
	}
	if st.OffVariant != "" {
		fl.off = index[st.OffVariant]
	}
	if !fl.enabled {
		// Nothing else is reachable.
		fl.fixed = s.result(fl, fl.off, ReasonDisabled, 0, "", -1, "", nil)
		return fl, nil
	}
	fl.targets = s.prepareTargets(fl, st.Targets, index)
	for _, p := range st.Prerequisites {
		// Linked and resolved once every flag is prepared (resolve).
		fl.prereqs = append(fl.prereqs, prereq{key: p.Flag, variants: p.Variants})
	}
	if len(fl.prereqs) > 0 {
		fl.prereqFailed = s.result(fl, fl.off, ReasonPrerequisiteFailed, 0, "", -1, "", nil)
	}
	if len(st.Rules) > 0 {
		fl.rules = make([]rule, 0, len(st.Rules))
	}
	hasSplit := false
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
		pr := rule{id: id, clauses: cs, serve: s.prepareServe(fl, &r.Serve, m.Key, index, ReasonTargetingMatch, int32(i), id)}
		if t := r.Traffic; t != nil {
			pr.traffic = &traffic{bucketer: newBucketer(t.Seed, t.BucketBy), from: uint32(t.From), to: uint32(t.To)}
		}
		hasSplit = hasSplit || pr.serve.split != nil
		fl.rules = append(fl.rules, pr)
	}
	static := (fl.targets == nil || fl.targets.empty()) && len(fl.rules) == 0
	if st.Default != nil {
		single := ReasonDefault
		if static {
			single = ReasonStatic
		}
		fl.def = s.prepareServe(fl, st.Default, m.Key, index, single, -1, "")
		fl.hasDef = true
		if sp := fl.def.split; sp != nil {
			hasSplit = true
			if sp.alloc != nil && sp.alloc.Experiment != "" && len(sp.ranges) > 0 {
				sp.heldOut = s.result(fl, sp.ranges[0].served.variant, ReasonDefault, 0, "", -1, "", nil)
			}
		}
	}
	if !fl.hasDef || hasSplit { // a split that misses every bucket cannot happen, but is covered
		fl.noDefault = s.result(fl, -1, ReasonError, ErrorGeneral, "the flag has no default serve", -1, "", nil)
	}
	if static && len(fl.prereqs) == 0 && fl.hasDef && fl.def.split == nil {
		fl.fixed = fl.def.single
	}
	return fl, nil
}

// prepareTargets returns the targeted keys of a flag state and their
// results, or nil. A key listed under several variants goes to the last.
func (s *Snapshot) prepareTargets(fl *flag, ts flagmodel.Targets, index map[string]int32) *targets {
	if len(ts) == 0 {
		return nil
	}
	n := 0
	for _, t := range ts {
		n += len(t.Keys)
	}
	set := make(map[string]*served, n)
	for _, t := range ts {
		if len(t.Keys) == 0 {
			continue
		}
		sv := s.result(fl, index[t.Variant], ReasonTargetingMatch, 0, "", -1, "", nil)
		for _, k := range t.Keys {
			set[k] = sv
		}
	}
	if len(set) > smallSet {
		return &targets{set: set}
	}
	out := &targets{short: make([]target, 0, len(set))}
	for _, t := range ts {
		for _, k := range t.Keys {
			if sv, ok := set[k]; ok {
				out.short = append(out.short, target{key: k, served: sv})
				delete(set, k) // each key once
			}
		}
	}
	return out
}

// prepareServe prepares a rule's (rule ≥ 0, its id ruleID) or the default's
// serve. A single variant is served for reason single.
func (s *Snapshot) prepareServe(fl *flag, m *flagmodel.Serve, flagKey string, index map[string]int32, single Reason, rule int32, ruleID string) serve {
	if !m.IsSplit() {
		return serve{single: s.result(fl, index[m.Variant], single, 0, "", rule, ruleID, nil)}
	}
	seed := m.Seed
	if seed == "" {
		seed = flagKey
	}
	sp := &split{bucketer: newBucketer(seed, m.BucketBy)}
	if m.Experiment != "" || m.Rollout != "" {
		sp.alloc = &Allocation{Experiment: m.Experiment, Rollout: m.Rollout, Unit: sp.bucketBy}
	}
	sp.missing = s.result(fl, -1, ReasonError, ErrorTargetingKeyMissing, missingUnitMessage(sp.bucketBy), rule, ruleID, nil)
	var upper uint32
	for _, w := range m.Split {
		if w.Weight == 0 {
			continue // a zero-weight variant owns no bucket
		}
		upper += uint32(w.Weight)
		sp.ranges = append(sp.ranges, bucketRange{upper: upper,
			served: s.result(fl, index[w.Variant], ReasonSplit, 0, "", rule, ruleID, sp.alloc)})
	}
	return serve{split: sp}
}

// missingUnitMessage says that a split cannot bucket a unit whose bucketBy
// attribute is missing.
func missingUnitMessage(bucketBy string) string {
	if bucketBy == flagmodel.TargetingKey {
		return "the split needs a targeting key and the context has none"
	}
	return "the split buckets by attribute " + strconv.Quote(bucketBy) + ", which is missing or not a string or whole number"
}

func (s *Snapshot) prepareClauses(ms []flagmodel.Clause) ([]clause, error) {
	out := make([]clause, 0, len(ms))
	for _, m := range ms {
		c := clause{
			attribute:      m.Attribute,
			byTargetingKey: m.Attribute == flagmodel.TargetingKey,
			op:             opcodes[m.Op],
			negate:         m.Negate,
		}
		var more operands
		for _, v := range m.Values {
			if err := s.addClauseValue(&c, &more, v); err != nil {
				return nil, err
			}
		}
		if c.op == opIn && len(c.strs) > smallSet {
			more.strSet = toSet(c.strs)
			c.strs = nil
		}
		c.more = &noOperands
		if !more.empty() {
			kept := more
			c.more = &kept
		}
		out = append(out, c)
	}
	return out, nil
}

// addClauseValue compiles one validated clause value.
func (s *Snapshot) addClauseValue(c *clause, more *operands, v any) error {
	switch c.op {
	case opIn:
		switch x := v.(type) {
		case string:
			c.strs = append(c.strs, x)
		case float64:
			more.nums = append(more.nums, x)
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
		more.regexps = append(more.regexps, re)
	case opLt, opLte, opGt, opGte:
		more.nums = append(more.nums, v.(float64))
	case opSemverEq, opSemverLt, opSemverLte, opSemverGt, opSemverGte:
		ver, ok := semver.Parse(v.(string))
		if !ok {
			return fmt.Errorf("invalid semantic version %q", v)
		}
		more.versions = append(more.versions, ver)
	case opBefore, opAfter:
		switch x := v.(type) {
		case string:
			ms, ok := timestamp.ParseRFC3339(x)
			if !ok {
				return fmt.Errorf("invalid date-time %q", x)
			}
			more.times = append(more.times, ms)
		case float64:
			more.times = append(more.times, int64(x))
		}
	case opInCIDR:
		p, err := flagmodel.ParseCIDR(v.(string))
		if err != nil {
			return err
		}
		more.prefixes = append(more.prefixes, p)
	case opInSegment:
		seg := s.segments[v.(string)]
		if seg == nil {
			return fmt.Errorf("unknown segment %q", v)
		}
		more.segments = append(more.segments, seg)
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

// result returns the prepared result of fl serving variant (-1 for none)
// for reason, from the matching rule (rule ≥ 0, with id ruleID) or not.
func (s *Snapshot) result(fl *flag, variant int32, reason Reason, code ErrorCode, msg string, rule int32, ruleID string, alloc *Allocation) *served {
	sv := served{variant: variant, Result: Result{Reason: reason, ErrorCode: code, ErrorMessage: msg,
		RuleID: ruleID, RuleIndex: rule, Allocation: alloc, Version: fl.version}}
	if variant >= 0 {
		sv.Variant, sv.Value = fl.variants[variant].name, fl.variants[variant].value
	}
	return s.results.intern(sv)
}

// interner shares equal prepared results while a configuration is being
// prepared. Most flags serve the same few values (true and false, a handful
// of strings) at small versions from rules without ids, so their results
// are equal: one copy serves all of them, across flags and environments.
// Results are immutable once prepared, so sharing them is safe.
type interner struct {
	m map[resultKey]*served
}

func newInterner() *interner { return &interner{m: map[resultKey]*served{}} }

// resultKey is a served result as a map key. Value is kept only when it is
// a bool, a string or nil; a float64 is kept as its bits (so 0 and -0 stay
// apart); objects are not interned.
type resultKey struct {
	value     any
	variantOf int32
	Result
}

func (in *interner) intern(sv served) *served {
	k := resultKey{variantOf: sv.variant, Result: sv.Result}
	switch v := sv.Value.(type) {
	case nil, bool, string:
	case float64:
		k.value = math.Float64bits(v)
	default:
		return &sv // not comparable, or not worth comparing
	}
	if k.value == nil {
		k.value = sv.Value
	}
	k.Value = nil
	if p := in.m[k]; p != nil {
		return p
	}
	p := &sv
	in.m[k] = p
	return p
}
