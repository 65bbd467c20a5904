package flagmodel

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"
	"time"

	"github.com/weirhq/weir/internal/semver"
	"github.com/weirhq/weir/internal/timestamp"
)

// Limits on the size of a model, so one file cannot exhaust a server.
const (
	MaxKeyLength      = 128
	MaxFlags          = 100000
	MaxSegments       = 10000
	MaxVariants       = 100
	MaxRules          = 1000
	MaxClauses        = 100
	MaxClauseValues   = 10000
	MaxSegmentKeys    = 1000000
	MaxTargetKeys     = 100000
	MaxPrerequisites  = 20
	MaxRegexLength    = 1024
	MaxRegexProgram   = 10000
	MaxStringLength   = 4096
	MaxDescriptionLen = 10000
)

// Problem is one validation finding, with the location of the value at
// fault.
type Problem struct {
	// Where locates the value, e.g.
	// `flags[3] "new-checkout": environments.production.rules[1].when[0].op`.
	Where   string
	Message string
}

func (p Problem) String() string {
	if p.Where == "" {
		return p.Message
	}
	return p.Where + ": " + p.Message
}

// ValidationError lists every problem Validate found.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// keyPattern is the syntax of environment, segment, flag and variant keys.
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)

type validator struct {
	f        *File
	problems []Problem
	envs     map[string]*Environment
	segments map[string]*Segment
	flags    map[string]*Flag
	// regexps remembers each distinct pattern's verdict: files repeat
	// patterns, and compiling dominates validation time.
	regexps  map[string]string
	compiled map[string]*regexp.Regexp
	// env is the environment whose flag state is being checked, when the
	// file declares it.
	env *Environment
}

func (v *validator) add(where, format string, args ...any) {
	v.problems = append(v.problems, Problem{Where: where, Message: fmt.Sprintf(format, args...)})
}

// Validate checks f and returns nil, or a *ValidationError listing every
// problem found with its location.
func (f *File) Validate() error {
	_, err := f.ValidateCompiled()
	return err
}

// Compiled holds what validation had to compile anyway, so that preparing
// the file for evaluation does not compile it again.
type Compiled struct {
	// Regexps maps each valid `matches` pattern to its compiled form
	// (safe for concurrent use).
	Regexps map[string]*regexp.Regexp
}

// ValidateCompiled is Validate that also returns the compiled regular
// expressions of a valid file.
func (f *File) ValidateCompiled() (*Compiled, error) {
	v := &validator{
		f:        f,
		envs:     map[string]*Environment{},
		segments: map[string]*Segment{},
		flags:    map[string]*Flag{},
		regexps:  map[string]string{},
		compiled: map[string]*regexp.Regexp{},
	}
	v.environments()
	v.indexSegmentsAndFlags()
	for i := range f.Segments {
		v.segment(i)
	}
	v.segmentCycles()
	for i := range f.Flags {
		v.flag(i)
	}
	v.prerequisiteCycles()
	v.metrics()
	if len(v.problems) == 0 {
		return &Compiled{Regexps: v.compiled}, nil
	}
	return nil, &ValidationError{Problems: v.problems}
}

func (v *validator) checkKey(where, what, key string) bool {
	switch {
	case key == "":
		v.add(where, "%s key is required", what)
	case len(key) > MaxKeyLength:
		v.add(where, "%s key is %d characters long, above the limit of %d", what, len(key), MaxKeyLength)
	case !keyPattern.MatchString(key):
		v.add(where, "%s key %q may only contain letters, digits, '.', '_', ':' and '-', and must start with a letter or digit", what, key)
	default:
		return true
	}
	return false
}

func (v *validator) environments() {
	for i := range v.f.Environments {
		e := &v.f.Environments[i]
		where := fmt.Sprintf("environments[%d]", i)
		if e.Key != "" {
			where = fmt.Sprintf("environments[%d] %q", i, e.Key)
		}
		if v.checkKey(where+": key", "environment", e.Key) {
			if _, dup := v.envs[e.Key]; dup {
				v.add(where+": key", "duplicate environment %q", e.Key)
			} else {
				v.envs[e.Key] = e
			}
		}
		seen := map[string]bool{}
		for j, a := range e.PrivateAttributes {
			w := fmt.Sprintf("%s: privateAttributes[%d]", where, j)
			switch {
			case a == "":
				v.add(w, "attribute name is empty")
			case a == TargetingKey:
				v.add(w, "targetingKey cannot be private: it identifies the unit (identifiers are tokenized instead)")
			case seen[a]:
				v.add(w, "duplicate attribute %q", a)
			}
			seen[a] = true
		}
		allowed := map[string]bool{}
		for j, p := range e.EventProperties {
			w := fmt.Sprintf("%s: eventProperties[%d]", where, j)
			switch {
			case p == "":
				v.add(w, "property name is empty")
			case seen[p]:
				v.add(w, "%q is a private attribute; private attributes are never stored", p)
			case allowed[p]:
				v.add(w, "duplicate property %q", p)
			case len(p) > MaxKeyLength:
				v.add(w, "property name is %d characters long, above the limit of %d", len(p), MaxKeyLength)
			}
			allowed[p] = true
		}
		if h := e.Holdout; h != nil {
			if h.Weight < 0 || h.Weight > WeightScale/2 {
				v.add(where+": holdout.weight", "a holdout is between 0 and 50%% of units (in thousandths of a percent: 0 to %d), not %d", WeightScale/2, h.Weight)
			}
			if len(h.Seed) > MaxStringLength {
				v.add(where+": holdout.seed", "seed is %d characters long, above the limit of %d", len(h.Seed), MaxStringLength)
			}
			if len(h.BucketBy) > MaxKeyLength {
				v.add(where+": holdout.bucketBy", "attribute name is %d characters long, above the limit of %d", len(h.BucketBy), MaxKeyLength)
			}
		}
		if e.RetentionDays < 0 || e.RetentionDays > MaxRetentionDays {
			v.add(where+": retentionDays", "retention must be between 1 and %d days (0 means the default, %d)", MaxRetentionDays, DefaultRetentionDays)
		}
	}
}

func (v *validator) indexSegmentsAndFlags() {
	if len(v.f.Segments) > MaxSegments {
		v.add("segments", "%d segments, above the limit of %d", len(v.f.Segments), MaxSegments)
	}
	if len(v.f.Flags) > MaxFlags {
		v.add("flags", "%d flags, above the limit of %d", len(v.f.Flags), MaxFlags)
	}
	for i := range v.f.Segments {
		s := &v.f.Segments[i]
		where := fmt.Sprintf("segments[%d]", i)
		if s.Key != "" {
			where = fmt.Sprintf("segments[%d] %q", i, s.Key)
		}
		if v.checkKey(where+": key", "segment", s.Key) {
			if _, dup := v.segments[s.Key]; dup {
				v.add(where+": key", "duplicate segment %q", s.Key)
			} else {
				v.segments[s.Key] = s
			}
		}
	}
	for i := range v.f.Flags {
		fl := &v.f.Flags[i]
		if v.checkKey(flagWhere(i, fl)+": key", "flag", fl.Key) {
			if _, dup := v.flags[fl.Key]; dup {
				v.add(flagWhere(i, fl)+": key", "duplicate flag %q", fl.Key)
			} else {
				v.flags[fl.Key] = fl
			}
		}
	}
}

func flagWhere(i int, f *Flag) string {
	if f.Key == "" {
		return fmt.Sprintf("flags[%d]", i)
	}
	return fmt.Sprintf("flags[%d] %q", i, f.Key)
}

func (v *validator) segment(i int) {
	s := &v.f.Segments[i]
	where := fmt.Sprintf("segments[%d]", i)
	if s.Key != "" {
		where = fmt.Sprintf("segments[%d] %q", i, s.Key)
	}
	if len(s.Description) > MaxDescriptionLen {
		v.add(where+": description", "%d characters, above the limit of %d", len(s.Description), MaxDescriptionLen)
	}
	included := v.keyList(where+": included", s.Included, MaxSegmentKeys)
	excluded := v.keyList(where+": excluded", s.Excluded, MaxSegmentKeys)
	// Walk the list, not the set, so problems come out in file order.
	for j, k := range s.Excluded {
		if included[k] && excluded[k] {
			v.add(fmt.Sprintf("%s: excluded[%d]", where, j), "key %q is both included and excluded", k)
			delete(excluded, k)
		}
	}
	if len(s.Rules) > MaxRules {
		v.add(where+": rules", "%d rules, above the limit of %d", len(s.Rules), MaxRules)
	}
	for j, r := range s.Rules {
		rw := fmt.Sprintf("%s: rules[%d]", where, j)
		if len(r.When) == 0 {
			v.add(rw+".when", "a segment rule needs at least one clause")
		}
		v.clauses(rw+".when", r.When, nil)
	}
}

// keyList checks a list of targeting keys and returns it as a set.
func (v *validator) keyList(where string, keys []string, limit int) map[string]bool {
	if len(keys) > limit {
		v.add(where, "%d keys, above the limit of %d", len(keys), limit)
	}
	set := make(map[string]bool, len(keys))
	for i, k := range keys {
		switch {
		case k == "":
			v.add(fmt.Sprintf("%s[%d]", where, i), "key is empty")
		case len(k) > MaxStringLength:
			v.add(fmt.Sprintf("%s[%d]", where, i), "key is %d characters long, above the limit of %d", len(k), MaxStringLength)
		case set[k]:
			v.add(fmt.Sprintf("%s[%d]", where, i), "duplicate key %q", k)
		}
		set[k] = true
	}
	return set
}

func (v *validator) flag(i int) {
	fl := &v.f.Flags[i]
	where := flagWhere(i, fl)
	if len(fl.Description) > MaxDescriptionLen {
		v.add(where+": description", "%d characters, above the limit of %d", len(fl.Description), MaxDescriptionLen)
	}
	if fl.Kind != "" && !contains(Kinds, fl.Kind) {
		v.add(where+": kind", "unknown kind %q%s (one of %s)", fl.Kind, suggest(string(fl.Kind), names(Kinds)), joinNames(Kinds))
	}
	typeOK := true
	switch {
	case fl.Type == "":
		v.add(where+": type", "type is required (one of %s)", joinNames(ValueTypes))
		typeOK = false
	case !contains(ValueTypes, fl.Type):
		v.add(where+": type", "unknown type %q%s (one of %s)", fl.Type, suggest(string(fl.Type), names(ValueTypes)), joinNames(ValueTypes))
		typeOK = false
	}
	if len(fl.Variants) == 0 {
		v.add(where+": variants", "a flag needs at least one variant")
	}
	if len(fl.Variants) > MaxVariants {
		v.add(where+": variants", "%d variants, above the limit of %d", len(fl.Variants), MaxVariants)
	}
	for _, vr := range fl.Variants {
		vw := fmt.Sprintf("%s: variants.%s", where, vr.Key)
		v.checkKey(vw, "variant", vr.Key)
		if typeOK {
			if msg := checkValueType(fl.Type, vr.Value); msg != "" {
				v.add(vw, "%s", msg)
			}
		}
	}
	if fl.Sunset != "" {
		if _, err := time.Parse(time.DateOnly, fl.Sunset); err != nil {
			v.add(where+": sunset", "%q is not a date (want YYYY-MM-DD)", fl.Sunset)
		}
	}
	for j, t := range fl.Tags {
		if t == "" || len(t) > MaxKeyLength {
			v.add(fmt.Sprintf("%s: tags[%d]", where, j), "a tag must be 1 to %d characters long", MaxKeyLength)
		}
	}
	envKeys := make([]string, 0, len(fl.Environments))
	for k := range fl.Environments {
		envKeys = append(envKeys, k)
	}
	sort.Strings(envKeys)
	for _, env := range envKeys {
		ew := fmt.Sprintf("%s: environments.%s", where, env)
		if len(v.f.Environments) > 0 {
			if _, ok := v.envs[env]; !ok {
				v.add(ew, "unknown environment %q%s", env, suggest(env, mapKeys(v.envs)))
			}
		}
		st := fl.Environments[env]
		if st == nil {
			v.add(ew, "environment state is empty")
			continue
		}
		v.env = v.envs[env]
		v.state(ew, fl, st)
		v.env = nil
	}
}

func (v *validator) variantRef(where string, fl *Flag, name string) {
	if name == "" {
		v.add(where, "variant name is empty")
		return
	}
	if _, ok := fl.Variant(name); !ok {
		v.add(where, "unknown variant %q%s", name, suggest(name, variantNames(fl)))
	}
}

func (v *validator) state(where string, fl *Flag, st *FlagState) {
	if st.OffVariant != "" {
		v.variantRef(where+".offVariant", fl, st.OffVariant)
	}
	targeted := map[string]string{}
	total := 0
	for _, t := range st.Targets {
		tw := fmt.Sprintf("%s.targets.%s", where, t.Variant)
		v.variantRef(tw, fl, t.Variant)
		total += len(t.Keys)
		for j, k := range t.Keys {
			kw := fmt.Sprintf("%s[%d]", tw, j)
			if k == "" {
				v.add(kw, "key is empty")
				continue
			}
			if other, dup := targeted[k]; dup {
				if other == t.Variant {
					v.add(kw, "duplicate key %q", k)
				} else {
					v.add(kw, "key %q is already targeted to variant %q", k, other)
				}
				continue
			}
			targeted[k] = t.Variant
		}
	}
	if total > MaxTargetKeys {
		v.add(where+".targets", "%d keys, above the limit of %d", total, MaxTargetKeys)
	}
	if len(st.Prerequisites) > MaxPrerequisites {
		v.add(where+".prerequisites", "%d prerequisites, above the limit of %d", len(st.Prerequisites), MaxPrerequisites)
	}
	for j, p := range st.Prerequisites {
		pw := fmt.Sprintf("%s.prerequisites[%d]", where, j)
		switch pf, ok := v.flags[p.Flag]; {
		case p.Flag == "":
			v.add(pw+".flag", "prerequisite flag is required")
		case p.Flag == fl.Key:
			v.add(pw+".flag", "a flag cannot be its own prerequisite")
		case !ok:
			v.add(pw+".flag", "unknown flag %q%s", p.Flag, suggest(p.Flag, mapKeys(v.flags)))
		default:
			if len(p.Variants) == 0 {
				v.add(pw+".variants", "list the prerequisite variants that satisfy it")
			}
			for k, name := range p.Variants {
				v.variantRef(fmt.Sprintf("%s.variants[%d]", pw, k), pf, name)
			}
		}
	}
	if len(st.Rules) > MaxRules {
		v.add(where+".rules", "%d rules, above the limit of %d", len(st.Rules), MaxRules)
	}
	ids := map[string]int{}
	for j := range st.Rules {
		r := &st.Rules[j]
		rw := fmt.Sprintf("%s.rules[%d]", where, j)
		if r.ID != "" {
			if first, dup := ids[r.ID]; dup {
				v.add(rw+".id", "duplicate rule id %q (also rules[%d])", r.ID, first)
			} else {
				ids[r.ID] = j
			}
			v.checkKey(rw+".id", "rule", r.ID)
		}
		v.clauses(rw+".when", r.When, fl)
		if r.Traffic != nil {
			v.traffic(rw+".traffic", r.Traffic)
		}
		v.serve(rw+".serve", fl, &r.Serve)
	}
	if st.Default != nil {
		v.serve(where+".default", fl, st.Default)
	} else if st.Enabled {
		v.add(where+".default", "an enabled flag needs a default serve ({variant: …} or {split: …})")
	}
}

func (v *validator) serve(where string, fl *Flag, s *Serve) {
	switch {
	case s.Variant != "" && len(s.Split) > 0:
		v.add(where, "serve either a variant or a split, not both")
		return
	case s.Variant == "" && len(s.Split) == 0:
		v.add(where, "serve needs a variant or a split")
		return
	case s.Variant != "":
		v.variantRef(where+".variant", fl, s.Variant)
		if s.BucketBy != "" || s.Seed != "" {
			v.add(where, "bucketBy and seed only apply to a split")
		}
		if s.Experiment != "" || s.Rollout != "" {
			v.add(where, "experiment and rollout only apply to a split")
		}
		return
	}
	if s.Experiment != "" && s.Rollout != "" {
		v.add(where, "a split serves an experiment or a rollout, not both")
	}
	if s.Experiment != "" {
		v.checkKey(where+".experiment", "experiment", s.Experiment)
	}
	if s.Rollout != "" {
		v.checkKey(where+".rollout", "rollout", s.Rollout)
	}
	if (s.Experiment != "" || s.Rollout != "") && v.env != nil && s.BucketBy != "" {
		for _, a := range v.env.PrivateAttributes {
			if a == s.BucketBy {
				v.add(where+".bucketBy", "%q is a private attribute in environment %q: an experiment's or rollout's unit is sent in exposure events, so it cannot be private", a, v.env.Key)
				break
			}
		}
	}
	sum := 0
	valid := true
	for _, w := range s.Split {
		ww := fmt.Sprintf("%s.split.%s", where, w.Variant)
		v.variantRef(ww, fl, w.Variant)
		if w.Weight < 0 {
			valid = false
			if w.nonScalar {
				v.add(ww, "weight must be a percentage such as 12.5, not a list or mapping")
			} else if _, err := ParsePercent(w.raw); err != nil {
				v.add(ww, "weight %q: %v; write a percentage with at most 3 decimals, such as 12.5", w.raw, err)
			} else {
				v.add(ww, "weight %q is not a number", w.raw)
			}
			continue
		}
		if w.Weight > WeightScale {
			v.add(ww, "weight %s%% is above 100%%", FormatPercent(w.Weight))
			valid = false
		}
		sum += w.Weight
	}
	if valid && sum != WeightScale {
		v.add(where+".split", "weights sum to %s%%, not 100%%", FormatPercent(sum))
	}
	if s.BucketBy != "" && len(s.BucketBy) > MaxKeyLength {
		v.add(where+".bucketBy", "attribute name is %d characters long, above the limit of %d", len(s.BucketBy), MaxKeyLength)
	}
	if len(s.Seed) > MaxStringLength {
		v.add(where+".seed", "seed is %d characters long, above the limit of %d", len(s.Seed), MaxStringLength)
	}
}

func (v *validator) traffic(where string, t *Traffic) {
	switch {
	case t.Seed == "":
		v.add(where+".seed", "traffic needs a seed (a layer or experiment key)")
	case len(t.Seed) > MaxStringLength:
		v.add(where+".seed", "seed is %d characters long, above the limit of %d", len(t.Seed), MaxStringLength)
	}
	if len(t.BucketBy) > MaxKeyLength {
		v.add(where+".bucketBy", "attribute name is %d characters long, above the limit of %d", len(t.BucketBy), MaxKeyLength)
	}
	if t.From < 0 || t.To > WeightScale || t.From >= t.To {
		v.add(where, "range [%d, %d) is not within [0, %d) with from below to (bounds are thousandths of a percent)", t.From, t.To, WeightScale)
	}
}

func (v *validator) clauses(where string, cs []Clause, fl *Flag) {
	if len(cs) > MaxClauses {
		v.add(where, "%d clauses, above the limit of %d", len(cs), MaxClauses)
	}
	for i := range cs {
		v.clause(fmt.Sprintf("%s[%d]", where, i), &cs[i])
	}
}

func (v *validator) clause(where string, c *Clause) {
	if !c.Op.Valid() {
		if c.Op == "" {
			v.add(where+".op", "operator is required")
		} else {
			v.add(where+".op", "unknown operator %q%s", c.Op, suggest(string(c.Op), names(Operators)))
		}
		return
	}
	switch {
	case c.Op == OpInSegment && c.Attribute != "":
		v.add(where+".attribute", "inSegment takes no attribute: segments match on the targeting key and their own rules")
	case c.Op != OpInSegment && c.Attribute == "":
		v.add(where+".attribute", "attribute is required for operator %s", c.Op)
	case len(c.Attribute) > MaxKeyLength:
		v.add(where+".attribute", "attribute name is %d characters long, above the limit of %d", len(c.Attribute), MaxKeyLength)
	}
	if c.Op == OpExists {
		if len(c.Values) > 0 {
			v.add(where+".values", "exists takes no values (use negate: true for \"does not exist\")")
		}
		return
	}
	if len(c.Values) == 0 {
		v.add(where+".values", "operator %s needs at least one value", c.Op)
		return
	}
	if len(c.Values) > MaxClauseValues {
		v.add(where+".values", "%d values, above the limit of %d", len(c.Values), MaxClauseValues)
	}
	for i, val := range c.Values {
		if pattern, ok := val.(string); ok && c.Op == OpMatches {
			msg, seen := v.regexps[pattern]
			if !seen {
				if len(pattern) > MaxStringLength {
					msg = checkClauseValue(c.Op, val, v.segments)
				} else if re, err := CompileRegexp(pattern); err != nil {
					msg = err.Error()
				} else {
					v.compiled[pattern] = re
				}
				v.regexps[pattern] = msg
			}
			if msg != "" {
				v.add(fmt.Sprintf("%s.values[%d]", where, i), "%s", msg)
			}
			continue
		}
		if msg := checkClauseValue(c.Op, val, v.segments); msg != "" {
			v.add(fmt.Sprintf("%s.values[%d]", where, i), "%s", msg)
		}
	}
}

// checkClauseValue returns a problem description, or "" when val suits op.
func checkClauseValue(op Operator, val any, segments map[string]*Segment) string {
	s, isString := val.(string)
	if isString && len(s) > MaxStringLength {
		return fmt.Sprintf("value is %d characters long, above the limit of %d", len(s), MaxStringLength)
	}
	switch op {
	case OpIn:
		switch x := val.(type) {
		case string, bool:
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return "number must be finite"
			}
		default:
			return fmt.Sprintf("in compares strings, numbers and booleans, not %s", describeValue(val))
		}
	case OpStartsWith, OpEndsWith, OpContains:
		if !isString {
			return fmt.Sprintf("%s needs a string, not %s", op, describeValue(val))
		}
	case OpMatches:
		if !isString {
			return fmt.Sprintf("matches needs a regular expression string, not %s", describeValue(val))
		}
		if _, err := CompileRegexp(s); err != nil {
			return err.Error()
		}
	case OpLt, OpLte, OpGt, OpGte:
		x, ok := val.(float64)
		if !ok {
			return fmt.Sprintf("%s needs a number, not %s", op, describeValue(val))
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "number must be finite"
		}
	case OpSemverEq, OpSemverLt, OpSemverLte, OpSemverGt, OpSemverGte:
		if !isString {
			return fmt.Sprintf("%s needs a version string, not %s (quote versions in YAML: \"1.10\" is not 1.1)", op, describeValue(val))
		}
		if _, ok := semver.Parse(s); !ok {
			return fmt.Sprintf("%q is not a semantic version (like 1.4.2 or 2.0.0-beta.1)", s)
		}
	case OpBefore, OpAfter:
		switch x := val.(type) {
		case string:
			if _, ok := timestamp.ParseRFC3339(x); !ok {
				return fmt.Sprintf("%q is not an RFC 3339 date-time (like 2026-01-02T15:04:05Z)", x)
			}
		case float64:
			if x != math.Trunc(x) || math.IsInf(x, 0) {
				return "a Unix time must be a whole number of milliseconds"
			}
		default:
			return fmt.Sprintf("%s needs an RFC 3339 date-time or Unix milliseconds, not %s", op, describeValue(val))
		}
	case OpInCIDR:
		if !isString {
			return fmt.Sprintf("inCIDR needs a CIDR string, not %s", describeValue(val))
		}
		if _, err := ParseCIDR(s); err != nil {
			return err.Error()
		}
	case OpInSegment:
		if !isString {
			return fmt.Sprintf("inSegment needs a segment key, not %s", describeValue(val))
		}
		if _, ok := segments[s]; !ok {
			return fmt.Sprintf("unknown segment %q%s", s, suggest(s, mapKeys(segments)))
		}
	}
	return ""
}

// CompileRegexp compiles a clause pattern (RE2 syntax) after checking its
// length and the size of its compiled program, so that no pattern can make
// evaluation slow or memory-hungry.
func CompileRegexp(pattern string) (*regexp.Regexp, error) {
	if len(pattern) > MaxRegexLength {
		return nil, fmt.Errorf("regular expression is %d characters long, above the limit of %d", len(pattern), MaxRegexLength)
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %v", pattern, err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %v", pattern, err)
	}
	if len(prog.Inst) > MaxRegexProgram {
		return nil, fmt.Errorf("regular expression %q is too complex (%d instructions, limit %d)", pattern, len(prog.Inst), MaxRegexProgram)
	}
	return regexp.Compile(pattern)
}

// ParseCIDR reads "10.0.0.0/8", "2001:db8::/32" or a single address (taken
// as a one-address prefix).
func ParseCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix (like 10.0.0.0/8)", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func checkValueType(t ValueType, val any) string {
	switch t {
	case TypeBoolean:
		if _, ok := val.(bool); !ok {
			return fmt.Sprintf("value must be a boolean (the flag's type), not %s", describeValue(val))
		}
	case TypeString:
		s, ok := val.(string)
		if !ok {
			return fmt.Sprintf("value must be a string (the flag's type), not %s", describeValue(val))
		}
		if len(s) > 64<<10 {
			return "string value is longer than 64 KiB"
		}
	case TypeNumber:
		x, ok := val.(float64)
		if !ok {
			return fmt.Sprintf("value must be a number (the flag's type), not %s", describeValue(val))
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "number must be finite"
		}
	case TypeObject:
		switch val.(type) {
		case map[string]any, []any:
		default:
			return fmt.Sprintf("value must be an object or a list (the flag's type), not %s", describeValue(val))
		}
		if !finite(val) {
			return "numbers inside the value must be finite"
		}
	}
	return ""
}

// finite reports whether every number in val is finite: JSON cannot hold NaN
// or infinities, so such a value could not be written back as a JSON file.
func finite(val any) bool {
	switch x := val.(type) {
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case []any:
		for _, e := range x {
			if !finite(e) {
				return false
			}
		}
	case map[string]any:
		for _, e := range x {
			if !finite(e) {
				return false
			}
		}
	}
	return true
}

func describeValue(val any) string {
	switch x := val.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case string:
		return fmt.Sprintf("the string %q", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", val)
}

// segmentCycles reports segments that reach themselves through inSegment.
func (v *validator) segmentCycles() {
	refs := map[string][]string{}
	for _, s := range v.f.Segments {
		for _, r := range s.Rules {
			for _, c := range r.When {
				if c.Op != OpInSegment {
					continue
				}
				for _, val := range c.Values {
					if name, ok := val.(string); ok {
						refs[s.Key] = append(refs[s.Key], name)
					}
				}
			}
		}
	}
	index := map[string]int{}
	for i, s := range v.f.Segments {
		index[s.Key] = i
	}
	for _, cyc := range findCycles(segmentKeys(v.f), refs) {
		v.add(fmt.Sprintf("segments[%d] %q: rules", index[cyc[0]], cyc[0]), "segment cycle: %s", strings.Join(cyc, " → "))
	}
}

// prerequisiteCycles reports flags that depend on themselves, per environment.
func (v *validator) prerequisiteCycles() {
	envs := map[string]bool{}
	for _, fl := range v.f.Flags {
		for env := range fl.Environments {
			envs[env] = true
		}
	}
	for _, env := range sortedKeys(envs) {
		refs := map[string][]string{}
		var keys []string
		for _, fl := range v.f.Flags {
			keys = append(keys, fl.Key)
			if st := fl.Environments[env]; st != nil {
				for _, p := range st.Prerequisites {
					if p.Flag != fl.Key { // reported on its own as a self-prerequisite
						refs[fl.Key] = append(refs[fl.Key], p.Flag)
					}
				}
			}
		}
		index := map[string]int{}
		for i, fl := range v.f.Flags {
			index[fl.Key] = i
		}
		for _, cyc := range findCycles(keys, refs) {
			v.add(fmt.Sprintf("flags[%d] %q: environments.%s.prerequisites", index[cyc[0]], cyc[0], env), "prerequisite cycle: %s", strings.Join(cyc, " → "))
		}
	}
}

// findCycles returns each cycle of the graph once, as a path that starts and
// ends on the same node.
func findCycles(nodes []string, edges map[string][]string) [][]string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var cycles [][]string
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, m := range edges[n] {
			switch color[m] {
			case grey:
				for i := len(stack) - 1; i >= 0; i-- {
					if stack[i] == m {
						cyc := append(append([]string{}, stack[i:]...), m)
						cycles = append(cycles, cyc)
						break
					}
				}
			case white:
				if _, known := edges[m]; known || contains(nodes, m) {
					visit(m)
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range nodes {
		if color[n] == white {
			visit(n)
		}
	}
	return cycles
}

func segmentKeys(f *File) []string {
	keys := make([]string, len(f.Segments))
	for i, s := range f.Segments {
		keys[i] = s.Key
	}
	return keys
}

func variantNames(fl *Flag) []string {
	out := make([]string, len(fl.Variants))
	for i, v := range fl.Variants {
		out[i] = v.Key
	}
	return out
}

func contains[T comparable](list []T, x T) bool {
	for _, y := range list {
		if x == y {
			return true
		}
	}
	return false
}

func names[T ~string](list []T) []string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = string(x)
	}
	return out
}

func joinNames[T ~string](list []T) string { return strings.Join(names(list), ", ") }

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]bool) []string { return mapKeys(m) }

// suggest returns ` (did you mean "x"?)` for the closest candidate within a
// small edit distance, or "".
func suggest(got string, candidates []string) string {
	best, bestDist := "", 3
	lower := strings.ToLower(got)
	for _, c := range candidates {
		if strings.EqualFold(c, got) {
			return fmt.Sprintf(" (did you mean %q?)", c)
		}
		if d := editDistance(lower, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" || len(got) <= bestDist {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
