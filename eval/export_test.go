package eval

import "strings"

// PrerequisiteLinks describes a flag's prerequisite links for tests: each
// prerequisite's key, "stale" when its link does not point at the
// snapshot's current flag of that key.
func PrerequisiteLinks(s *Snapshot, key string) string {
	var out []string
	for _, p := range s.flags[key].prereqs {
		link := p.key
		if p.flag != s.flags[p.key] {
			link += " stale"
		}
		out = append(out, link)
	}
	return strings.Join(out, ",")
}
