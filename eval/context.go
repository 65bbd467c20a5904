package eval

import "github.com/weirhq/weir/flagmodel"

// Context is what a flag is evaluated for: the unit's targeting key and flat
// attributes, as in OpenFeature. Attribute values may be string, bool, any Go
// integer or float type, time.Time, netip.Addr, or a []any / []string list
// (a list matches a clause when any element does). A nil value counts as
// missing.
//
// Build a Context once and evaluate it against many flags; evaluation only
// reads it.
type Context struct {
	TargetingKey string
	Attributes   map[string]any
}

// NewContext builds a Context from a flat attribute map, taking the targeting
// key from its "targetingKey" entry when that is a string.
func NewContext(attributes map[string]any) Context {
	c := Context{Attributes: attributes}
	if tk, ok := attributes[flagmodel.TargetingKey].(string); ok {
		c.TargetingKey = tk
	}
	return c
}

// attribute returns a non-targeting-key attribute's value; nil counts as
// missing. The targeting key is read from the field directly by callers, so
// that it is never boxed into an interface (which would allocate).
func (c *Context) attribute(name string) (any, bool) {
	v := c.Attributes[name]
	return v, v != nil
}

// Unit returns the value of attribute attr that identifies ctx's unit, the
// way a split bucketing by attr reads it: the targeting key or a non-empty
// string attribute as text, or a whole-number attribute (of any Go integer
// or float type, or a json.Number) as number, with text empty. ok is false
// when attr identifies no unit — missing, empty, a fraction, another type —
// which is when such a split reports TARGETING_KEY_MISSING.
//
// The unit's canonical text, the one splits hash and exposure events carry,
// is text, or strconv.FormatInt(number, 10). Unit itself never allocates.
func (c *Context) Unit(attr string) (text string, number int64, ok bool) {
	if c == nil {
		return "", 0, false
	}
	if attr == flagmodel.TargetingKey {
		return c.TargetingKey, 0, c.TargetingKey != ""
	}
	v, present := c.attribute(attr)
	if !present {
		return "", 0, false
	}
	if s, isString := v.(string); isString {
		return s, 0, s != ""
	}
	number, ok = integerValue(v)
	return "", number, ok
}
