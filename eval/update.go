package eval

import (
	"fmt"
	"sort"

	"github.com/weirhq/weir/flagmodel"
)

// Update returns the snapshot of the same environment for f, a new version
// of the file s was prepared from in which only the flags named in changed
// were created, modified or removed (segments and environments unchanged).
// Flags that are not changed and do not depend on a changed flag through
// prerequisites are shared with s, so a one-flag change costs about one
// flag's preparation whatever the size of the configuration. s is left as
// it was: readers of s are not disturbed.
//
// c must be the result of f.ValidateCompiled(): Update does not validate f
// again. The result equals Prepare(f, env); a test checks this.
func (s *Snapshot) Update(f *flagmodel.File, c *flagmodel.Compiled, changed []string) (*Snapshot, error) {
	if c == nil {
		return nil, fmt.Errorf("update snapshot: the file's compiled form is required (ValidateCompiled)")
	}
	ns := &Snapshot{
		env:      s.env,
		private:  s.private,
		segments: s.segments,
		flags:    make(map[string]*flag, len(f.Flags)),
		regexps:  c.Regexps,
	}
	models := make(map[string]*flagmodel.Flag, len(f.Flags))
	for i := range f.Flags {
		models[f.Flags[i].Key] = &f.Flags[i]
	}
	// Rebuild the changed flags and, transitively, every flag whose
	// prerequisites reach one of them: their prerequisite links and variant
	// sets must point at the new versions.
	rebuild := make(map[string]bool, len(changed))
	dependants := map[string][]string{}
	for key, m := range models {
		if st := m.Environments[s.env]; st != nil {
			for _, p := range st.Prerequisites {
				dependants[p.Flag] = append(dependants[p.Flag], key)
			}
		}
	}
	queue := append([]string(nil), changed...)
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		if rebuild[k] {
			continue
		}
		rebuild[k] = true
		queue = append(queue, dependants[k]...)
	}
	sameKeys := len(models) == len(s.flags)
	for key, m := range models {
		old := s.flags[key]
		if old == nil {
			sameKeys = false
		}
		if old != nil && !rebuild[key] {
			ns.flags[key] = old
			continue
		}
		fl, err := ns.prepareFlag(m, s.env, models)
		if err != nil {
			return nil, fmt.Errorf("flag %q: %w", key, err)
		}
		ns.flags[key] = fl
	}
	for key := range rebuild {
		fl := ns.flags[key]
		if fl == nil {
			continue // removed
		}
		for i := range fl.prereqs {
			fl.prereqs[i].flag = ns.flags[fl.prereqs[i].key]
		}
	}
	if sameKeys {
		ns.keys = s.keys
	} else {
		ns.keys = make([]string, 0, len(ns.flags))
		for k := range ns.flags {
			ns.keys = append(ns.keys, k)
		}
		sort.Strings(ns.keys)
	}
	ns.regexps = nil
	return ns, nil
}
