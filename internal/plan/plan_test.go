package plan

import (
	"strings"
	"testing"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

const file = `
environments: [{key: production}]
segments: [{key: beta, included: [u1]}]
flags:
  - key: checkout
    type: boolean
    variants: {on: true, off: false}
    environments:
      production: {enabled: true, default: {variant: off}}
`

func parse(t *testing.T, doc string) *flagmodel.File {
	t.Helper()
	f, err := flagmodel.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

// configOf builds the stored configuration a commit of f would leave, each
// object at version 1.
func configOf(f *flagmodel.File) *store.Config {
	cfg := &store.Config{}
	for _, e := range f.Environments {
		cfg.Environments = append(cfg.Environments, store.Versioned[flagmodel.Environment]{Value: e, Version: 1})
	}
	for _, s := range f.Segments {
		cfg.Segments = append(cfg.Segments, store.Versioned[flagmodel.Segment]{Value: s, Version: 1})
	}
	for _, fl := range f.Flags {
		for _, st := range fl.Environments {
			st.Version = 1
		}
		cfg.Flags = append(cfg.Flags, store.Versioned[flagmodel.Flag]{Value: fl, Version: 1})
	}
	return cfg
}

func TestPlanningAFileOntoNothingCreatesEverything(t *testing.T) {
	p, err := Compute(&store.Config{}, parse(t, file), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Counts(); c[OpCreate] != 4 || len(p.Items) != 4 {
		t.Fatalf("counts %v, items %+v", c, p.Items)
	}
	cs := p.Changeset("alice", "first", "apply")
	if len(cs.Changes) != 4 {
		t.Fatalf("%d changes", len(cs.Changes))
	}
	for _, c := range cs.Changes {
		if c.ExpectedVersion != 0 {
			t.Errorf("a creation must expect version 0: %+v", c)
		}
	}
}

func TestPlanningTheSameFileAgainChangesNothing(t *testing.T) {
	f := parse(t, file)
	p, err := Compute(configOf(parse(t, file)), f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() || len(p.Changeset("a", "r", "apply").Changes) != 0 {
		t.Fatalf("plan not empty: %+v", p.Items)
	}
}

func TestAChangedStateIsAnUpdateWithItsDiffAndExpectedVersion(t *testing.T) {
	changed := strings.Replace(file, "default: {variant: off}", "default: {variant: on}", 1)
	p, err := Compute(configOf(parse(t, file)), parse(t, changed), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var upd []Item
	for _, it := range p.Items {
		if it.Op == OpUpdate {
			upd = append(upd, it)
		}
	}
	if len(upd) != 1 || upd[0].Kind != store.KindFlagState || upd[0].Env != "production" {
		t.Fatalf("updates %+v", upd)
	}
	want := []string{`- default.variant: "off"`, `+ default.variant: "on"`}
	if strings.Join(upd[0].Diff, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff %q, want %q", upd[0].Diff, want)
	}
	if cs := p.Changeset("a", "r", "apply"); cs.Changes[0].ExpectedVersion != 1 {
		t.Errorf("expected version %d, want 1", cs.Changes[0].ExpectedVersion)
	}
}

func TestPruneDeletesWhatTheFileNoLongerNames(t *testing.T) {
	cur := configOf(parse(t, file))
	empty := parse(t, "environments: [{key: production}]")
	p, _ := Compute(cur, empty, Options{})
	if !p.Empty() {
		t.Fatalf("without prune nothing is deleted: %+v", p.Items)
	}
	p, _ = Compute(cur, empty, Options{Prune: true})
	if c := p.Counts(); c[OpDelete] != 3 { // segment, flag and its production state
		t.Fatalf("with prune: %v", c)
	}
}

func TestMergeKeepsStatesOfEnvironmentsTheFileDoesNotMention(t *testing.T) {
	cur := configOf(parse(t, `
environments: [{key: production}, {key: staging}]
flags:
  - key: checkout
    type: boolean
    variants: {on: true, off: false}
    environments:
      production: {enabled: true, default: {variant: off}}
      staging: {enabled: true, default: {variant: on}}
`))
	desired := parse(t, `
flags:
  - key: checkout
    type: boolean
    variants: {on: true, off: false}
    environments:
      production: {enabled: false}
`)
	merged := Merge(cur, desired, Options{})
	if err := merged.Validate(); err != nil {
		t.Fatal(err)
	}
	fl := merged.Flags[0]
	if fl.Environments["staging"] == nil || fl.Environments["production"].Enabled {
		t.Errorf("merged states %+v", fl.Environments)
	}
}
