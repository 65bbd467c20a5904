package eval

import (
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/semver"
	"github.com/weirhq/weir/internal/timestamp"
)

// Evaluate evaluates flag key for ctx. It never panics, never allocates for
// the flag shapes covered by the benchmarks, and reports every failure in the
// Result. A nil ctx is an empty context.
func (s *Snapshot) Evaluate(key string, ctx *Context) Result {
	return s.evaluateKey(key, ctx, nil)
}

// EvaluateInto is Evaluate writing the result to *r: a caller that keeps
// the result in a larger value (an SDK's typed details) saves a copy.
func (s *Snapshot) EvaluateInto(r *Result, key string, ctx *Context) {
	fl := s.flags[key]
	switch {
	case fl == nil:
		*r = flagNotFound
	case fl.fixed != nil:
		*r = fl.fixed.Result
	default:
		if ctx == nil {
			ctx = &emptyContext
		}
		*r = s.evaluate(fl, ctx, nil, 0).Result
	}
}

// EvaluateAs evaluates flag key like Evaluate, and reports TYPE_MISMATCH
// when the flag's value type is not want. Typed SDK accessors use it.
func (s *Snapshot) EvaluateAs(key string, want flagmodel.ValueType, ctx *Context) Result {
	fl := s.flags[key]
	if fl != nil && fl.typ != want {
		return Result{Reason: ReasonError, ErrorCode: ErrorTypeMismatch, RuleIndex: -1, Version: fl.version,
			ErrorMessage: typeMismatchMessage(fl.typ, want)}
	}
	return s.evaluateKey(key, ctx, nil)
}

// Explain evaluates flag key like Evaluate and also returns a Trace of every
// step: which targets, rules, clauses and segments matched or failed, and
// why. It allocates; use it for diagnosis, not in hot paths.
func (s *Snapshot) Explain(key string, ctx *Context) (Result, *Trace) {
	t := &tracer{trace: &Trace{Flag: key, Environment: s.env}}
	r := s.evaluateKey(key, ctx, t)
	return r, t.trace
}

// typeMismatchMessages holds every TYPE_MISMATCH message, built once, so a
// mismatch costs no allocation on the evaluation path.
var typeMismatchMessages = func() map[[2]flagmodel.ValueType]string {
	m := map[[2]flagmodel.ValueType]string{}
	for _, have := range flagmodel.ValueTypes {
		for _, want := range flagmodel.ValueTypes {
			m[[2]flagmodel.ValueType{have, want}] = "flag is of type " + string(have) + ", not " + string(want)
		}
	}
	return m
}()

func typeMismatchMessage(have, want flagmodel.ValueType) string {
	if msg, ok := typeMismatchMessages[[2]flagmodel.ValueType{have, want}]; ok {
		return msg
	}
	return "flag is of type " + string(have) + ", not " + string(want)
}

var emptyContext Context

func (s *Snapshot) evaluateKey(key string, ctx *Context, t *tracer) Result {
	fl := s.flags[key]
	if fl == nil {
		if t != nil {
			t.add("flag "+strconv.Quote(key), "not found", "no flag with this key in environment "+s.env)
		}
		return flagNotFound
	}
	if ctx == nil {
		ctx = &emptyContext
	}
	if t == nil && fl.fixed != nil {
		return fl.fixed.Result
	}
	if t != nil {
		t.flag(key, fl)
	}
	return s.evaluate(fl, ctx, t, 0).Result
}

var flagNotFound = Result{Reason: ReasonError, ErrorCode: ErrorFlagNotFound, RuleIndex: -1,
	ErrorMessage: "flag not found in this environment"}

// served is a Result prepared ahead of evaluation, with the index of its
// variant (-1 for none). Every outcome a flag can reach — each variant of
// each rule, target and split, each failure — is built once by Prepare, so
// evaluation only picks one and copies it: copying a whole Result from
// memory is much faster than assembling one field by field, whose narrow
// stores the copy to the caller then cannot forward. Equal results are
// shared (see interner), so most flags keep few results of their own.
type served struct {
	Result
	variant int32
}

func (s *Snapshot) evaluate(fl *flag, ctx *Context, t *tracer, depth int) *served {
	if !fl.enabled {
		if t != nil {
			t.add("enabled", "no", offExplanation(fl))
		}
		return fl.fixed // the disabled result
	}
	for i := range fl.prereqs {
		p := &fl.prereqs[i]
		if t != nil {
			t.add("prerequisite "+strconv.Quote(p.key), "", "")
			t.depth++
		}
		var po *served
		if p.flag != nil && depth < 64 {
			if t != nil {
				t.flag(p.key, p.flag)
			}
			po = s.evaluate(p.flag, ctx, t, depth+1)
			if t != nil {
				t.depth--
			}
		}
		met := po != nil && po.Reason != ReasonError && po.Reason != ReasonDisabled &&
			po.variant >= 0 && int(po.variant) < len(p.ok) && p.ok[po.variant]
		if t != nil {
			t.depth--
			why := "prerequisite flag missing"
			if po != nil {
				why = "served " + variantName(p.flag, int(po.variant)) + " (" + po.Reason.String() + ")"
			}
			if met {
				t.add("prerequisite "+strconv.Quote(p.key), "met", why)
			} else {
				t.add("prerequisite "+strconv.Quote(p.key), "failed", why+"; "+offExplanation(fl))
			}
		}
		if !met {
			return fl.prereqFailed
		}
	}
	if fl.targets != nil {
		if ctx.TargetingKey != "" {
			if sv := fl.targets.lookup(ctx.TargetingKey); sv != nil {
				if t != nil {
					t.add("individual targets", "matched", "targeting key "+strconv.Quote(ctx.TargetingKey)+" is targeted to "+fl.variants[sv.variant].name)
				}
				return sv
			}
		}
		if t != nil {
			t.add("individual targets", "no match", "targeting key "+strconv.Quote(ctx.TargetingKey)+" is not targeted")
		}
	}
	for i := range fl.rules {
		r := &fl.rules[i]
		if t != nil {
			t.add("rule "+r.id, "", "")
			t.depth++
		}
		matched := s.allMatch(r.clauses, ctx, t)
		if matched && r.traffic != nil {
			matched = r.traffic.admits(ctx, t)
		}
		if matched && s.holdout != nil && r.serve.split != nil && r.serve.split.alloc != nil && r.serve.split.alloc.Experiment != "" {
			matched = !s.holdout.holds(ctx, t)
		}
		if t != nil {
			t.depth--
			if matched {
				t.add("rule "+r.id, "matched", "")
			} else {
				t.add("rule "+r.id, "no match", "")
			}
		}
		if matched {
			return fl.serve(&r.serve, ctx, t)
		}
	}
	if !fl.hasDef {
		return fl.noDefault
	}
	if t != nil {
		t.add("default", "served", "no target or rule matched")
	}
	if sp := fl.def.split; sp != nil && sp.heldOut != nil && s.holdout != nil && s.holdout.holds(ctx, t) {
		return sp.heldOut
	}
	return fl.serve(&fl.def, ctx, t)
}

// admits reports whether the unit's bucket is in the traffic range. A unit
// without the attribute is not admitted: the rule does not match.
func (tr *traffic) admits(ctx *Context, t *tracer) bool {
	b, ok := tr.bucket(ctx)
	in := ok && b >= tr.from && b < tr.to
	if t != nil {
		switch {
		case !ok:
			t.add("traffic by "+tr.bucketBy, "not admitted", "the unit attribute is missing or not a string or whole number")
		case in:
			t.add("traffic by "+tr.bucketBy, "admitted", "bucket "+strconv.Itoa(int(b))+" is in ["+strconv.Itoa(int(tr.from))+", "+strconv.Itoa(int(tr.to))+")")
		default:
			t.add("traffic by "+tr.bucketBy, "not admitted", "bucket "+strconv.Itoa(int(b))+" is outside ["+strconv.Itoa(int(tr.from))+", "+strconv.Itoa(int(tr.to))+")")
		}
	}
	return in
}

// holds reports whether the unit is in the environment's holdout. A unit
// without the attribute is not held out.
func (h *holdout) holds(ctx *Context, t *tracer) bool {
	b, ok := h.bucket(ctx)
	held := ok && b < h.weight
	if t != nil && held {
		t.add("holdout by "+h.bucketBy, "held out", "bucket "+strconv.Itoa(int(b))+" is below "+strconv.Itoa(int(h.weight))+": experiments are skipped")
	}
	return held
}

func variantName(fl *flag, i int) string {
	if fl == nil || i < 0 || i >= len(fl.variants) {
		return "no variant"
	}
	return strconv.Quote(fl.variants[i].name)
}

func offExplanation(fl *flag) string {
	if fl.off < 0 {
		return "no off variant: the application's default applies"
	}
	return "serving off variant " + strconv.Quote(fl.variants[fl.off].name)
}

// serve resolves a rule's or the default's serve to a prepared result.
func (fl *flag) serve(sv *serve, ctx *Context, t *tracer) *served {
	if sv.split == nil {
		if t != nil {
			t.add("serve", sv.single.Variant, "")
		}
		return sv.single
	}
	sp := sv.split
	b, ok := sp.bucket(ctx)
	if !ok {
		if t != nil {
			t.add("split by "+sp.bucketBy, "error", sp.missing.ErrorMessage)
		}
		return sp.missing
	}
	for i := range sp.ranges {
		if r := &sp.ranges[i]; b < r.upper {
			if t != nil {
				t.add("split by "+sp.bucketBy, r.served.Variant,
					"bucket "+strconv.Itoa(int(b))+" of 100000 falls below "+strconv.Itoa(int(r.upper)))
			}
			return r.served
		}
	}
	// Unreachable for a validated split (weights sum to 100000).
	return fl.noDefault
}

// bucket hashes the unit's bucketBy value. It reports false when the value
// is missing or of a type that has no canonical text form.
func (sp *bucketer) bucket(ctx *Context) (uint32, bool) {
	d := sp.prefix // copy: the prepared state stays untouched
	if sp.byTargetingKey {
		if ctx.TargetingKey == "" {
			return 0, false
		}
		d.WriteString(ctx.TargetingKey)
		return scale(d.Sum64()), true
	}
	text, n, ok := ctx.Unit(sp.bucketBy)
	switch {
	case !ok:
		return 0, false
	case text != "":
		d.WriteString(text)
	default:
		var buf [24]byte
		d.Write(strconv.AppendInt(buf[:0], n, 10))
	}
	return scale(d.Sum64()), true
}

// integerValue returns v as an int64 when it is a whole number.
func integerValue(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil
	}
	f, ok := numberValue(v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func (s *Snapshot) allMatch(cs []clause, ctx *Context, t *tracer) bool {
	for i := range cs {
		if !s.clauseMatches(&cs[i], ctx, t) {
			if t != nil && i+1 < len(cs) {
				t.add("remaining clauses", "skipped", "a rule needs every clause to match")
			}
			return false
		}
	}
	return true
}

// verdict is a clause operator's answer for one attribute value.
type verdict int8

const (
	// undecided: the attribute has no value of the operator's type, so the
	// clause does not match, negated or not.
	undecided verdict = iota - 1
	noMatch
	match
)

func (s *Snapshot) clauseMatches(c *clause, ctx *Context, t *tracer) bool {
	if c.op == opInSegment {
		in := false
		for _, seg := range c.more.segments {
			if s.segmentMatches(seg, ctx, t) {
				in = true
				break
			}
		}
		ok := in != c.negate
		if t != nil {
			t.clause(c, ok, "in segment: "+strconv.FormatBool(in))
		}
		return ok
	}
	var v verdict
	var present bool
	if c.byTargetingKey {
		present = ctx.TargetingKey != ""
		if present && c.op != opExists {
			v = c.matchString(ctx.TargetingKey)
		}
	} else {
		var val any
		val, present = ctx.attribute(c.attribute)
		if present && c.op != opExists {
			if str, ok := val.(string); ok {
				v = c.matchString(str) // the common case, one call shorter
			} else {
				v = c.matchValue(val)
			}
		}
	}
	switch {
	case c.op == opExists:
		ok := present != c.negate
		if t != nil {
			t.clause(c, ok, "attribute present: "+strconv.FormatBool(present))
		}
		return ok
	case !present:
		if t != nil {
			t.clause(c, false, "attribute "+strconv.Quote(c.attribute)+" is missing (never matches, even negated)")
		}
		return false
	case v == undecided:
		if t != nil {
			t.clause(c, false, "attribute "+strconv.Quote(c.attribute)+" has no value of the type "+string(opNames[c.op])+" compares (type mismatch never matches, even negated)")
		}
		return false
	}
	ok := (v == match) != c.negate
	if t != nil {
		t.clause(c, ok, "operator "+string(opNames[c.op])+" holds: "+strconv.FormatBool(v == match))
	}
	return ok
}

func (s *Snapshot) segmentMatches(seg *segment, ctx *Context, t *tracer) bool {
	if ctx.TargetingKey != "" {
		if _, ok := seg.included[ctx.TargetingKey]; ok {
			if t != nil {
				t.add("segment "+strconv.Quote(seg.key), "matched", "targeting key is included")
			}
			return true
		}
		if _, ok := seg.excluded[ctx.TargetingKey]; ok {
			if t != nil {
				t.add("segment "+strconv.Quote(seg.key), "no match", "targeting key is excluded")
			}
			return false
		}
	}
	if t != nil {
		t.depth++
	}
	for i, r := range seg.rules {
		if s.allMatch(r, ctx, t) {
			if t != nil {
				t.depth--
				t.add("segment "+strconv.Quote(seg.key), "matched", "rules["+strconv.Itoa(i)+"] matched")
			}
			return true
		}
	}
	if t != nil {
		t.depth--
		t.add("segment "+strconv.Quote(seg.key), "no match", "not included and no rule matched")
	}
	return false
}

// matchValue applies the operator to an attribute value of any type; a list
// matches when any element does, and is decided when any element is.
func (c *clause) matchValue(v any) verdict {
	switch x := v.(type) {
	case string:
		return c.matchString(x)
	case []any:
		res := undecided
		for _, e := range x {
			switch c.matchScalar(e) {
			case match:
				return match
			case noMatch:
				res = noMatch
			}
		}
		return res
	case []string:
		res := undecided
		for _, e := range x {
			switch c.matchString(e) {
			case match:
				return match
			case noMatch:
				res = noMatch
			}
		}
		return res
	}
	return c.matchScalar(v)
}

func (c *clause) matchScalar(v any) verdict {
	switch x := v.(type) {
	case string:
		return c.matchString(x)
	case bool:
		return c.matchBool(x)
	case time.Time:
		return c.matchTime(x.UnixMilli())
	case netip.Addr:
		return c.matchAddr(x)
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return undecided
		}
		return c.matchNumber(f)
	}
	if f, ok := numberValue(v); ok {
		return c.matchNumber(f)
	}
	return undecided
}

func numberValue(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint8:
		return float64(x), true
	case float32:
		return float64(x), !math.IsNaN(float64(x))
	}
	return 0, false
}

func verdictOf(b bool) verdict {
	if b {
		return match
	}
	return noMatch
}

func (c *clause) matchString(s string) verdict {
	switch c.op {
	case opIn:
		if c.strs != nil {
			// Short lists: compare length and first byte before the bytes,
			// so most candidates are rejected without a call to memequal.
			for _, x := range c.strs {
				if len(x) == len(s) && (len(s) == 0 || x[0] == s[0]) && x == s {
					return match
				}
			}
			return noMatch
		}
		if set := c.more.strSet; set != nil {
			_, ok := set[s]
			return verdictOf(ok)
		}
		return undecided
	case opStartsWith:
		for _, x := range c.strs {
			if strings.HasPrefix(s, x) {
				return match
			}
		}
		return noMatch
	case opEndsWith:
		for _, x := range c.strs {
			if strings.HasSuffix(s, x) {
				return match
			}
		}
		return noMatch
	case opContains:
		for _, x := range c.strs {
			if strings.Contains(s, x) {
				return match
			}
		}
		return noMatch
	case opMatches:
		for _, re := range c.more.regexps {
			if re.MatchString(s) {
				return match
			}
		}
		return noMatch
	case opSemverEq, opSemverLt, opSemverLte, opSemverGt, opSemverGte:
		v, ok := semver.Parse(s)
		if !ok {
			return undecided
		}
		for _, w := range c.more.versions {
			if compareHolds(c.op, semver.Compare(v, w)) {
				return match
			}
		}
		return noMatch
	case opBefore, opAfter:
		ms, ok := timestamp.ParseRFC3339(s)
		if !ok {
			return undecided
		}
		return c.matchTime(ms)
	case opInCIDR:
		a, err := netip.ParseAddr(s)
		if err != nil {
			return undecided
		}
		return c.matchAddr(a)
	}
	return undecided
}

// compareHolds reports whether a comparison result satisfies a semver op.
func compareHolds(op opcode, cmp int) bool {
	switch op {
	case opSemverEq:
		return cmp == 0
	case opSemverLt:
		return cmp < 0
	case opSemverLte:
		return cmp <= 0
	case opSemverGt:
		return cmp > 0
	case opSemverGte:
		return cmp >= 0
	}
	return false
}

func (c *clause) matchNumber(f float64) verdict {
	switch c.op {
	case opIn:
		if c.more.nums == nil {
			return undecided
		}
		for _, x := range c.more.nums {
			if x == f {
				return match
			}
		}
		return noMatch
	case opLt:
		for _, x := range c.more.nums {
			if f < x {
				return match
			}
		}
		return noMatch
	case opLte:
		for _, x := range c.more.nums {
			if f <= x {
				return match
			}
		}
		return noMatch
	case opGt:
		for _, x := range c.more.nums {
			if f > x {
				return match
			}
		}
		return noMatch
	case opGte:
		for _, x := range c.more.nums {
			if f >= x {
				return match
			}
		}
		return noMatch
	case opBefore, opAfter:
		if f != math.Trunc(f) || math.IsInf(f, 0) {
			return undecided
		}
		return c.matchTime(int64(f))
	}
	return undecided
}

func (c *clause) matchBool(b bool) verdict {
	if c.op != opIn || !(c.hasTrue || c.hasFalse) {
		return undecided
	}
	return verdictOf((b && c.hasTrue) || (!b && c.hasFalse))
}

func (c *clause) matchTime(ms int64) verdict {
	switch c.op {
	case opBefore:
		for _, x := range c.more.times {
			if ms < x {
				return match
			}
		}
		return noMatch
	case opAfter:
		for _, x := range c.more.times {
			if ms > x {
				return match
			}
		}
		return noMatch
	}
	return undecided
}

func (c *clause) matchAddr(a netip.Addr) verdict {
	if c.op != opInCIDR {
		return undecided
	}
	a = a.Unmap()
	for _, p := range c.more.prefixes {
		if p.Contains(a) {
			return match
		}
	}
	return noMatch
}
