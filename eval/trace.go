package eval

import (
	"fmt"
	"strconv"
	"strings"
)

// Trace explains an evaluation step by step.
type Trace struct {
	Flag        string `json:"flag"`
	Environment string `json:"environment"`
	Steps       []Step `json:"steps"`
}

// Step is one line of a Trace. Depth nests prerequisite evaluations, rule
// clauses and segment rules under their parent.
type Step struct {
	Depth   int    `json:"depth"`
	What    string `json:"what"`
	Outcome string `json:"outcome,omitempty"`
	Why     string `json:"why,omitempty"`
}

// String renders the trace as indented text, one step per line.
func (t *Trace) String() string {
	var b strings.Builder
	for _, s := range t.Steps {
		b.WriteString(strings.Repeat("  ", s.Depth))
		b.WriteString(s.What)
		if s.Outcome != "" {
			b.WriteString(": ")
			b.WriteString(s.Outcome)
		}
		if s.Why != "" {
			b.WriteString(" — ")
			b.WriteString(s.Why)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// tracer records steps; a nil *tracer records nothing, and callers check for
// nil before building messages so the fast path builds none.
type tracer struct {
	trace *Trace
	depth int
}

func (t *tracer) add(what, outcome, why string) {
	t.trace.Steps = append(t.trace.Steps, Step{Depth: t.depth, What: what, Outcome: outcome, Why: why})
}

func (t *tracer) flag(key string, fl *flag) {
	t.add("flag "+strconv.Quote(key), "", "version "+strconv.FormatInt(fl.version, 10)+", type "+string(fl.typ))
	t.depth++
}

func (t *tracer) clause(c *clause, ok bool, why string) {
	outcome := "no match"
	if ok {
		outcome = "matched"
	}
	t.add(describeClause(c), outcome, why)
}

func describeClause(c *clause) string {
	var b strings.Builder
	if c.attribute != "" {
		b.WriteString(c.attribute)
		b.WriteByte(' ')
	}
	if c.negate {
		b.WriteString("not ")
	}
	b.WriteString(string(opNames[c.op]))
	var vals []string
	add := func(v string) {
		if len(vals) < 6 {
			vals = append(vals, v)
		}
	}
	for _, s := range c.strs {
		add(fmt.Sprintf("%q", s))
	}
	for _, n := range c.more.nums {
		add(fmt.Sprint(n))
	}
	for _, re := range c.more.regexps {
		add(fmt.Sprintf("/%s/", re))
	}
	for _, v := range c.more.versions {
		add(fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) + map[bool]string{true: "-" + v.Pre, false: ""}[v.Pre != ""])
	}
	for _, p := range c.more.prefixes {
		add(p.String())
	}
	for _, s := range c.more.segments {
		add(fmt.Sprintf("%q", s.key))
	}
	if c.hasTrue {
		add("true")
	}
	if c.hasFalse {
		add("false")
	}
	total := len(c.strs) + len(c.more.strSet) + len(c.more.nums) + len(c.more.regexps) + len(c.more.versions) + len(c.more.prefixes) + len(c.more.segments) + len(c.more.times)
	if c.more.strSet != nil {
		vals = append(vals, fmt.Sprintf("%d keys", len(c.more.strSet)))
	}
	for _, ms := range c.more.times {
		add(fmt.Sprintf("%dms", ms))
	}
	if len(vals) > 0 {
		b.WriteString(" [")
		b.WriteString(strings.Join(vals, ", "))
		if total > len(vals) && c.more.strSet == nil {
			fmt.Fprintf(&b, ", … %d in all", total)
		}
		b.WriteByte(']')
	}
	return b.String()
}
