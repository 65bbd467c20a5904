package sdk

import (
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

func TestTheDedupTableRemembersAKeyForTheWindowOnly(t *testing.T) {
	tab := &dedupTable{seed: maphash.MakeSeed()}
	const k = 0xdeadbeef_12345678
	if tab.seen(k) {
		t.Fatal("a new key was seen")
	}
	if !tab.seen(k) {
		t.Fatal("a key just recorded was not seen")
	}
	tab.gen.Add(dedupSpan)
	if !tab.seen(k) {
		t.Fatalf("a key recorded %d generations ago (the window) was not seen", dedupSpan)
	}
	tab.gen.Add(1)
	if tab.seen(k) {
		t.Fatalf("a key recorded %d generations ago, beyond the window, was seen", dedupSpan+1)
	}
	if !tab.seen(k) {
		t.Fatal("a key recorded again was not seen")
	}
}

func TestTwoKeysOfOneBucketAreBothRememberedAndAThirdEvictsTheOlder(t *testing.T) {
	tab := &dedupTable{seed: maphash.MakeSeed()}
	// Same bucket (low 16 bits), different tags.
	k1, k2, k3 := uint64(1)<<20|0x42, uint64(2)<<20|0x43, uint64(3)<<20|0x42
	tab.seen(k1)
	tab.gen.Add(1)
	tab.seen(k2)
	if !tab.seen(k1) || !tab.seen(k2) {
		t.Fatal("two keys of one bucket are not both remembered")
	}
	if tab.seen(k3) {
		t.Fatal("a third key was seen")
	}
	if !tab.seen(k2) {
		t.Error("the third key evicted the newer key")
	}
	if tab.seen(k1) {
		t.Error("the older key survived the third")
	}
}

// The table may forget (an extra exposure) but must never claim to have
// seen a key it was not given within the window (a lost exposure). Keys
// are drawn from a few buckets so that they compete hard.
func TestTheDedupTableNeverClaimsAKeyItWasNotGiven(t *testing.T) {
	tab := &dedupTable{seed: maphash.MakeSeed()}
	rng := rand.New(rand.NewPCG(1, 2))
	recorded := map[uint64]uint16{} // key → generation it was stamped
	for range 200_000 {
		if rng.IntN(100) == 0 {
			tab.gen.Add(uint32(rng.IntN(3)))
		}
		// 64 tags in 8 buckets. (Bit 0 is the one bit of a hash the table
		// does not keep: keys differing only there are one key to it.)
		key := uint64(rng.IntN(64))<<48 | uint64(rng.IntN(8))<<1
		gen := uint16(tab.gen.Load())
		stamped, ok := recorded[key]
		if tab.seen(key) {
			if !ok || gen-stamped > dedupSpan {
				t.Fatalf("key %#x seen, but it was not recorded within the window", key)
			}
			continue
		}
		recorded[key] = gen
	}
}

func TestTheIdentityCacheGivesTheSameHashAsHashing(t *testing.T) {
	tab := &dedupTable{seed: maphash.MakeSeed()}
	cases := []struct {
		flag, variant string
		version       int64
	}{
		{"checkout", "on", 3}, {"checkout", "off", 3}, {"checkout", "on", 4}, {"checkoutX", "on", 3}, {"on", "checkout", 3},
	}
	hashes := map[uint64]bool{}
	for _, c := range cases {
		h, cached := tab.identity(c.flag, c.variant, c.version)
		if cached {
			t.Fatalf("%v came from an empty cache", c)
		}
		hashes[h] = true
		tab.remember(c.flag, c.variant, c.version, h)
		if again, cached := tab.identity(c.flag, c.variant, c.version); !cached || again != h {
			t.Errorf("%v: cached %v, hash %x, want %x", c, cached, again, h)
		}
	}
	if len(hashes) != len(cases) {
		t.Errorf("%d distinct hashes for %d identities", len(hashes), len(cases))
	}
	// A different string with the same bytes is the same identity.
	flag := string([]byte("checkout"))
	if h, cached := tab.identity(flag, "on", 3); !cached {
		t.Errorf("a copy of the key missed the cache (%x)", h)
	}
}
