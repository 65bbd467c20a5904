package flagmodel_test

import (
	"math"
	"reflect"
	"testing"
	"unsafe"

	"github.com/weirhq/weir/flagmodel"
)

const internDoc = `
environments: [{key: production}]
flags:
  - key: a
    type: number
    variants: {on: 0.0, off: -0.0, big: 2.5}
    environments:
      production:
        enabled: true
        targets: {on: [user-1]}
        rules:
          - when: [{attribute: country, op: in, values: [NL, 1]}]
            serve: {variant: on}
        default: {variant: off}
  - key: b
    type: object
    variants: {on: {color: green}, off: {color: green}}
    environments:
      production:
        enabled: true
        targets: {on: [user-1]}
        rules:
          - when: [{attribute: country, op: in, values: [NL, 1]}]
            serve: {variant: on}
        default: {variant: off}
`

func same(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func TestParsedFilesShareEqualStringsAndChangeNoValue(t *testing.T) {
	f, err := flagmodel.Parse([]byte(internDoc))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Flags[0], f.Flags[1]
	sa, sb := a.Environments["production"], b.Environments["production"]
	if !same(sa.Targets[0].Keys[0], sb.Targets[0].Keys[0]) || !same(a.Variants[0].Key, b.Variants[0].Key) ||
		!same(sa.Rules[0].When[0].Attribute, sb.Rules[0].When[0].Attribute) {
		t.Error("equal strings of two flags are separate copies")
	}
	va, vb := sa.Rules[0].When[0].Values, sb.Rules[0].When[0].Values
	if !same(va[0].(string), vb[0].(string)) {
		t.Error("equal clause values are separate copies")
	}
	if !reflect.DeepEqual(va, []any{"NL", 1.0}) || !reflect.DeepEqual(vb, va) {
		t.Errorf("clause values %#v and %#v", va, vb)
	}
	zero, negZero := a.Variants[0].Value.(float64), a.Variants[1].Value.(float64)
	if zero != 0 || math.Signbit(zero) || !math.Signbit(negZero) {
		t.Errorf("0 and -0 became %v and %v (sign bits %v, %v)", zero, negZero, math.Signbit(zero), math.Signbit(negZero))
	}
	if !reflect.DeepEqual(b.Variants[0].Value, map[string]any{"color": "green"}) {
		t.Errorf("object value %#v", b.Variants[0].Value)
	}
}

func TestInterningRebuildsAStateMapWhoseKeysAreCopies(t *testing.T) {
	env := string([]byte("production")) // a separate copy
	fl := flagmodel.Flag{Key: "a", Environments: map[string]*flagmodel.FlagState{env: {Enabled: true}}}
	var in flagmodel.Interner
	shared := in.String("production")
	in.Flag(&fl)
	for k, st := range fl.Environments {
		if !same(k, shared) || !st.Enabled {
			t.Errorf("key %q (shared %v), state %+v", k, same(k, shared), st)
		}
	}
}

func TestAppendingToAnInternedSliceLeavesItsNeighboursAlone(t *testing.T) {
	f, err := flagmodel.Parse([]byte(internDoc))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Flags[0].Environments["production"], f.Flags[1].Environments["production"]
	before := append([]flagmodel.Clause(nil), b.Rules[0].When...)
	a.Rules[0].When = append(a.Rules[0].When, flagmodel.Clause{Attribute: "plan", Op: flagmodel.OpIn, Values: []any{"pro"}})
	a.Targets[0].Keys = append(a.Targets[0].Keys, "user-2")
	if !reflect.DeepEqual(b.Rules[0].When, before) || len(b.Targets[0].Keys) != 1 || b.Targets[0].Keys[0] != "user-1" {
		t.Errorf("appending to one flag's slices changed another's: %+v, %v", b.Rules[0].When, b.Targets[0].Keys)
	}
}
