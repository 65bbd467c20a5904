package backend

import (
	"testing"
	"testing/fstest"
	"time"
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
