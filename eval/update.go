package eval

import (
	"fmt"
	"maps"
	"sort"

	"github.com/weirhq/weir/flagmodel"
)

// Update returns a new snapshot of the same environment in which the flags
// named in changed are replaced by their new models (a nil model removes
// the flag) and everything else is shared with s. Flags whose prerequisites
// reach a changed flag are re-linked. s is left as it was: readers of s are
// not disturbed, and a one-flag change costs about one flag's preparation
// whatever the size of the configuration.
//
// The caller guarantees that the configuration with these changes is valid
// and that segments are unchanged: c must be the ValidateCompiled result of
// the whole new configuration (it supplies the compiled expressions). The
// result equals Prepare on the whole new configuration; a test checks this.
func (s *Snapshot) Update(changed map[string]*flagmodel.Flag, c *flagmodel.Compiled) (*Snapshot, error) {
	if c == nil {
		return nil, fmt.Errorf("update snapshot: the configuration's compiled form is required (ValidateCompiled)")
	}
	ns := &Snapshot{
		env:      s.env,
		private:  s.private,
		holdout:  s.holdout,
		segments: s.segments,
		flags:    maps.Clone(s.flags),
		keys:     s.keys,
		regexps:  c.Regexps,
		results:  newInterner(),
	}
	keysChanged := false
	for key, m := range changed {
		_, existed := ns.flags[key]
		if m == nil {
			delete(ns.flags, key)
			keysChanged = keysChanged || existed
			continue
		}
		fl, err := ns.prepareFlag(m, s.env)
		if err != nil {
			return nil, fmt.Errorf("flag %q: %w", key, err)
		}
		ns.flags[key] = fl
		keysChanged = keysChanged || !existed
	}
	// Every flag whose prerequisites reach a changed flag, transitively,
	// gets a copy whose links point at the new flags.
	dependants := map[string][]string{}
	for key, fl := range ns.flags {
		for i := range fl.prereqs {
			dependants[fl.prereqs[i].key] = append(dependants[fl.prereqs[i].key], key)
		}
	}
	relink := map[string]bool{}
	queue := make([]string, 0, len(changed))
	for k := range changed {
		queue = append(queue, k)
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		if relink[k] {
			continue
		}
		relink[k] = true
		queue = append(queue, dependants[k]...)
	}
	// First give every re-linked flag its new identity, then link: a link
	// made before its target was copied would point at the old flag.
	for key := range relink {
		fl := ns.flags[key]
		if fl == nil || len(fl.prereqs) == 0 {
			continue
		}
		if _, isNew := changed[key]; !isNew {
			cp := *fl // shares its prepared rules and results, which do not change
			cp.prereqs = append([]prereq(nil), fl.prereqs...)
			ns.flags[key] = &cp
		}
	}
	for key := range relink {
		if fl := ns.flags[key]; fl != nil {
			for i := range fl.prereqs {
				fl.prereqs[i].resolve(ns.flags[fl.prereqs[i].key])
			}
		}
	}
	if keysChanged {
		ns.keys = make([]string, 0, len(ns.flags))
		for k := range ns.flags {
			ns.keys = append(ns.keys, k)
		}
		sort.Strings(ns.keys)
	}
	ns.regexps, ns.results = nil, nil
	return ns, nil
}
