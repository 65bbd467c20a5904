package flagmodel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Variant is one named value of a flag.
type Variant struct {
	Key   string
	Value any
}

// Variants is an ordered mapping from variant name to value, written in files
// as a mapping: {"enabled": true, "disabled": false}.
type Variants []Variant

// Weight is one variant's share of a split, in thousandths of a percent.
type Weight struct {
	Variant string
	Weight  int
	// raw keeps the written text when it could not be read as a percentage
	// with at most three decimals, so Validate can report it with its place.
	raw       string
	nonScalar bool
}

// Weights is an ordered mapping from variant name to percentage, written in
// files as {"enabled": 12.5, "disabled": 87.5}.
type Weights []Weight

// Target lists the targeting keys that always receive Variant.
type Target struct {
	Variant string
	Keys    []string
}

// Targets is an ordered mapping from variant name to targeting keys, written
// in files as {"enabled": [user-1, user-2]}.
type Targets []Target

// ParsePercent reads a percentage with at most three decimals ("12.5",
// "100", "0.125") as thousandths of a percent. It never goes through floating
// point, so "33.333" is exactly 33333.
func ParsePercent(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty percentage")
	}
	if s[0] == '-' {
		return 0, fmt.Errorf("percentage %s is negative", s)
	}
	s = strings.TrimPrefix(s, "+")
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if len(frac) > 3 {
		// Trailing zeros beyond the third decimal are harmless.
		trimmed := strings.TrimRight(frac[3:], "0")
		if trimmed != "" {
			return 0, fmt.Errorf("percentage %s has more than 3 decimals", s)
		}
		frac = frac[:3]
	}
	for _, part := range []string{intPart, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("%q is not a number", s)
			}
		}
	}
	if intPart == "" {
		intPart = "0"
	}
	if len(intPart) > 6 {
		return 0, fmt.Errorf("percentage %s is above 100", s)
	}
	whole, _ := strconv.Atoi(intPart)
	frac = (frac + "000")[:3]
	thousandths, _ := strconv.Atoi(frac)
	return whole*1000 + thousandths, nil
}

// FormatPercent writes thousandths of a percent as a percentage with no
// trailing zeros: 12500 → "12.5".
func FormatPercent(w int) string {
	s := strconv.Itoa(w / 1000)
	if f := w % 1000; f != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%03d", f), "0")
	}
	return s
}

func newWeight(variant, text string) Weight {
	w, err := ParsePercent(text)
	if err != nil {
		return Weight{Variant: variant, Weight: -1, raw: text}
	}
	return Weight{Variant: variant, Weight: w}
}

// plainDecimal rewrites exponent notation ("1.25e1") as a plain decimal,
// so the same weight reads alike from YAML and JSON; ParsePercent then
// applies the three-decimal rule to the plain form.
func plainDecimal(text string) string {
	if strings.IndexAny(text, "eE") < 0 {
		return text
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return text
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// --- YAML ---

func mappingPairs(node *yaml.Node, what string) ([][2]*yaml.Node, error) {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return nil, nil
	}
	if node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: %s must be a mapping of name to value", node.Line, what)
	}
	seen := make(map[string]int, len(node.Content)/2)
	pairs := make([][2]*yaml.Node, 0, len(node.Content)/2)
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: %s names must be strings", k.Line, what)
		}
		if first, dup := seen[k.Value]; dup {
			return nil, fmt.Errorf("line %d: %s %q is defined twice (first at line %d)", k.Line, what, k.Value, first)
		}
		seen[k.Value] = k.Line
		pairs = append(pairs, [2]*yaml.Node{k, v})
	}
	return pairs, nil
}

// UnmarshalYAML reads variants from a mapping, keeping their order.
func (vs *Variants) UnmarshalYAML(node *yaml.Node) error {
	pairs, err := mappingPairs(node, "variant")
	if err != nil {
		return err
	}
	out := make(Variants, 0, len(pairs))
	for _, p := range pairs {
		var v any
		if err := p[1].Decode(&v); err != nil {
			return fmt.Errorf("line %d: variant %q: %w", p[1].Line, p[0].Value, err)
		}
		out = append(out, Variant{Key: p[0].Value, Value: normalizeValue(v)})
	}
	*vs = out
	return nil
}

// MarshalYAML writes variants as a mapping in declared order.
func (vs Variants) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	for _, v := range vs {
		var val yaml.Node
		if err := val.Encode(v.Value); err != nil {
			return nil, err
		}
		if val.Kind != yaml.ScalarNode {
			n.Style = 0
		}
		n.Content = append(n.Content, stringNode(v.Key), &val)
	}
	return n, nil
}

// UnmarshalYAML reads split weights from a mapping, keeping their order.
func (ws *Weights) UnmarshalYAML(node *yaml.Node) error {
	pairs, err := mappingPairs(node, "split variant")
	if err != nil {
		return err
	}
	out := make(Weights, 0, len(pairs))
	for _, p := range pairs {
		if p[1].Kind != yaml.ScalarNode {
			out = append(out, Weight{Variant: p[0].Value, Weight: -1, nonScalar: true})
			continue
		}
		if p[1].Tag != "!!int" && p[1].Tag != "!!float" {
			out = append(out, Weight{Variant: p[0].Value, Weight: -1, raw: p[1].Value})
			continue
		}
		out = append(out, newWeight(p[0].Value, plainDecimal(p[1].Value)))
	}
	*ws = out
	return nil
}

// MarshalYAML writes split weights as a mapping of percentages.
func (ws Weights) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	for _, w := range ws {
		tag := "!!int"
		if w.Weight%1000 != 0 {
			tag = "!!float"
		}
		n.Content = append(n.Content, stringNode(w.Variant),
			&yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: FormatPercent(w.Weight)})
	}
	return n, nil
}

// UnmarshalYAML reads targets from a mapping of variant to keys.
func (ts *Targets) UnmarshalYAML(node *yaml.Node) error {
	pairs, err := mappingPairs(node, "target variant")
	if err != nil {
		return err
	}
	out := make(Targets, 0, len(pairs))
	for _, p := range pairs {
		var keys []string
		if err := p[1].Decode(&keys); err != nil {
			return fmt.Errorf("line %d: targets for %q must be a list of keys", p[1].Line, p[0].Value)
		}
		out = append(out, Target{Variant: p[0].Value, Keys: keys})
	}
	*ts = out
	return nil
}

// MarshalYAML writes targets as a mapping of variant to keys.
func (ts Targets) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, t := range ts {
		var keys yaml.Node
		if err := keys.Encode(t.Keys); err != nil {
			return nil, err
		}
		keys.Style = yaml.FlowStyle
		n.Content = append(n.Content, stringNode(t.Variant), &keys)
	}
	return n, nil
}

func stringNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// --- JSON ---

// jsonObject walks a JSON object's members in order, handing each raw value
// to fn and rejecting duplicate names.
func jsonObject(data []byte, what string, fn func(name string, raw json.RawMessage) error) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%s must be an object of name to value", what)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if seen[name] {
			return fmt.Errorf("%s %q is defined twice", what, name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if err := fn(name, raw); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

func writeJSONObject(n int, member func(i int) (string, any)) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		name, val := member(i)
		k, _ := json.Marshal(name)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(val)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads variants from an object, keeping their order.
func (vs *Variants) UnmarshalJSON(data []byte) error {
	out := Variants{}
	err := jsonObject(data, "variant", func(name string, raw json.RawMessage) error {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("variant %q: %w", name, err)
		}
		out = append(out, Variant{Key: name, Value: normalizeValue(v)})
		return nil
	})
	*vs = out
	return err
}

// MarshalJSON writes variants as an object in declared order.
func (vs Variants) MarshalJSON() ([]byte, error) {
	return writeJSONObject(len(vs), func(i int) (string, any) { return vs[i].Key, vs[i].Value })
}

// UnmarshalJSON reads split weights from an object, keeping their order.
func (ws *Weights) UnmarshalJSON(data []byte) error {
	out := Weights{}
	err := jsonObject(data, "split variant", func(name string, raw json.RawMessage) error {
		text := strings.TrimSpace(string(raw))
		if text == "" || !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')) {
			out = append(out, Weight{Variant: name, Weight: -1, raw: text})
			return nil
		}
		out = append(out, newWeight(name, plainDecimal(text)))
		return nil
	})
	*ws = out
	return err
}

// MarshalJSON writes split weights as an object of percentages.
func (ws Weights) MarshalJSON() ([]byte, error) {
	return writeJSONObject(len(ws), func(i int) (string, any) {
		return ws[i].Variant, json.Number(FormatPercent(ws[i].Weight))
	})
}

// UnmarshalJSON reads targets from an object of variant to keys.
func (ts *Targets) UnmarshalJSON(data []byte) error {
	out := Targets{}
	err := jsonObject(data, "target variant", func(name string, raw json.RawMessage) error {
		var keys []string
		if err := json.Unmarshal(raw, &keys); err != nil {
			return fmt.Errorf("targets for %q must be a list of keys", name)
		}
		out = append(out, Target{Variant: name, Keys: keys})
		return nil
	})
	*ts = out
	return err
}

// MarshalJSON writes targets as an object of variant to keys.
func (ts Targets) MarshalJSON() ([]byte, error) {
	return writeJSONObject(len(ts), func(i int) (string, any) { return ts[i].Variant, ts[i].Keys })
}

// normalizeValue turns every number into float64 and every nested mapping
// into map[string]any, so values compare the same whichever format they came
// from.
func normalizeValue(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case []any:
		for i := range x {
			x[i] = normalizeValue(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = normalizeValue(x[k])
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[fmt.Sprint(k)] = normalizeValue(val)
		}
		return m
	}
	return v
}
