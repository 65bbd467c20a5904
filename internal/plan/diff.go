package plan

import (
	"encoding/json"
	"sort"
	"strconv"
)

// Diff compares two JSON documents field by field and returns readable
// lines: "- path: value" for what goes, "+ path: value" for what comes.
// A nil document is absent.
func Diff(before, after []byte) []string {
	b := flatten(before)
	a := flatten(after)
	paths := map[string]bool{}
	for p := range b {
		paths[p] = true
	}
	for p := range a {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	var out []string
	for _, p := range sorted {
		bv, inB := b[p]
		av, inA := a[p]
		if inB && inA && bv == av {
			continue
		}
		if inB {
			out = append(out, "- "+p+": "+bv)
		}
		if inA {
			out = append(out, "+ "+p+": "+av)
		}
	}
	return out
}

// flatten maps each scalar leaf of a JSON document to its path
// ("rules[0].when[1].values"); lists of scalars stay whole on one line.
func flatten(doc []byte) map[string]string {
	out := map[string]string{}
	if doc == nil {
		return out
	}
	var v any
	if json.Unmarshal(doc, &v) != nil {
		out[""] = string(doc)
		return out
	}
	walk("", v, out)
	return out
}

func walk(path string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			out[path] = "{}"
		}
		for k, child := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walk(p, child, out)
		}
	case []any:
		if scalars(x) {
			b, _ := json.Marshal(x)
			out[path] = string(b)
			return
		}
		for i, child := range x {
			walk(path+"["+strconv.Itoa(i)+"]", child, out)
		}
	default:
		b, _ := json.Marshal(x)
		out[path] = string(b)
	}
}

func scalars(list []any) bool {
	for _, v := range list {
		switch v.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}
