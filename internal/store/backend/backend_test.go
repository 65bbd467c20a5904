package backend

import (
	"bytes"
	"reflect"
	"testing"
	"testing/fstest"
	"time"

	"github.com/weirhq/weir/internal/store"
)

func TestDiffKeepsMemberOrderAndCompacts(t *testing.T) {
	got, err := Diff([]byte("null"), []byte(`{ "zeta": 1,
		"alpha": [1, 2] }`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"before":null,"after":{"zeta":1,"alpha":[1,2]}}`; string(got) != want {
		t.Fatalf("Diff = %s, want %s", got, want)
	}
	if _, err := Diff([]byte("{"), []byte("null")); err == nil {
		t.Fatal("Diff accepted invalid JSON")
	}
}

func TestCommitTimeNeverGoesBackAlongTheLog(t *testing.T) {
	last := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if got := commitTime(last.Add(-time.Hour), Head{Time: last}); !got.Equal(last) {
		t.Errorf("a clock behind the log gives %v, want the last entry's time %v", got, last)
	}
	later := last.Add(1500 * time.Nanosecond)
	if got := commitTime(later, Head{Time: last}); !got.Equal(last.Add(time.Microsecond)) || got.Location() != time.UTC {
		t.Errorf("commitTime(%v) = %v, want it in UTC truncated to microseconds", later, got)
	}
}

func TestMigrationsAreOrderedAndNamedByVersion(t *testing.T) {
	good := fstest.MapFS{
		"0002_keys.sql": {Data: []byte("B")},
		"0001_init.sql": {Data: []byte("A")},
		"README.md":     {Data: []byte("not a migration")},
	}
	ms, err := Migrations(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[0].Name != "0001_init" || ms[0].SQL != "A" || ms[1].Version != 2 {
		t.Fatalf("Migrations = %+v", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"no number":        {"init.sql": {}},
		"zero":             {"0000_init.sql": {}},
		"a shared version": {"0001_a.sql": {}, "1_b.sql": {}},
	} {
		if _, err := Migrations(fsys); err == nil {
			t.Errorf("%s: Migrations accepted it", name)
		}
	}
}

func TestEventStatsSortByteWiseAndTotal(t *testing.T) {
	st := store.EventStats{
		Flags: []store.FlagVariantCount{
			{Flag: "b", Variant: "on", Exposures: 1},
			{Flag: "B", Variant: "on", Exposures: 2},
			{Flag: "a", Variant: "on", Experiment: "x", Exposures: 3},
			{Flag: "a", Variant: "on", Rollout: "r", Exposures: 4},
			{Flag: "a", Variant: "off", Exposures: 5},
		},
		Metrics: []store.MetricCount{{Name: "signup", Events: 2}, {Name: "Signup", Events: 3}},
	}
	FinishEventStats(&st)
	var order []string
	for _, f := range st.Flags {
		order = append(order, f.Flag+"/"+f.Variant+"/"+f.Experiment+"/"+f.Rollout)
	}
	// Upper case sorts first, as in byte order; an absent experiment
	// before a named one.
	if want := []string{"B/on//", "a/off//", "a/on//r", "a/on/x/", "b/on//"}; !reflect.DeepEqual(order, want) {
		t.Errorf("flags in order %q, want %q", order, want)
	}
	if st.Metrics[0].Name != "Signup" || st.Exposures != 15 || st.Tracks != 5 {
		t.Errorf("metrics %+v, totals %d exposures and %d tracks; want Signup first, 15 and 5", st.Metrics, st.Exposures, st.Tracks)
	}
}

func TestRepeatedBatchesAreMarkedAfterTheFirst(t *testing.T) {
	b := func(env, id string) store.EventBatch {
		return store.EventBatch{Env: env, ID: id, ReceivedAt: time.Unix(1, 0)}
	}
	repeated, envs, err := CheckEvents([]store.EventBatch{b("prod", "1"), b("prod", "2"), b("prod", "1"), b("dev", "1"), b("prod", "1")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{false, false, true, false, true}; !reflect.DeepEqual(repeated, want) {
		t.Errorf("repeated = %v, want %v", repeated, want)
	}
	if want := []string{"prod", "dev"}; !reflect.DeepEqual(envs, want) {
		t.Errorf("environments %q, want %q", envs, want)
	}
}

func TestNewUnitTokenKeysAreRandom(t *testing.T) {
	a, b := NewUnitTokenKey(), NewUnitTokenKey()
	if len(a) != UnitTokenKeySize || bytes.Equal(a, b) {
		t.Fatalf("two keys %x and %x, want two different %d-byte keys", a, b, UnitTokenKeySize)
	}
}
