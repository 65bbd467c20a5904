package sdk

import (
	"hash/maphash"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/event"
)

// Exposure de-duplication. An application evaluates the same flag for the
// same user many times a minute; the analysis needs to know once that the
// user saw the variant. Each evaluation that exposes a unit therefore
// looks up (unit, flag, variant, flag version) in a table of 64-bit hashes
// stamped with a coarse clock, and records an exposure only when the entry
// is absent or older than the window. The table is two-way set
// associative: a hash may sit in either slot of its bucket, and a new one
// replaces the older of the two.
//
// The table never loses a first exposure to a collision: keys that compete
// for a bucket evict each other, which records an extra exposure, never a
// missing one. Only two keys equal in the 63 bits of their hash that the
// table keeps (about one lookup in 2^62) would hide one. The lookup takes
// no lock and allocates nothing, so that a de-duplicated exposure costs
// little more than the evaluation itself.
//
// Hashing three strings would cost more than the rest of the lookup, so
// the hash of (flag, variant, version), which an application evaluates
// over and over for different units, comes from a small cache: a slot
// chosen by the strings' lengths and end bytes holds the last identity
// recorded there, and comparing it costs little because the strings
// usually share their bytes (the caller's constant key, the snapshot's
// variant name). Only the unit is hashed on every evaluation.

const (
	// dedupSlots is the table's size: 512 KiB, which remembers tens of
	// thousands of recent exposures before evictions add extra ones.
	dedupSlots = 1 << 16
	// genBits of an entry hold its generation; the other 48 bits hold the
	// hash bits that the bucket index (bits 1 to 15) does not use.
	genBits = 16
	genMask = 1<<genBits - 1
	// dedupSpan is the window in generations. An entry is fresh while the
	// clock has advanced at most dedupSpan generations since it was
	// stamped, so a unit is exposed again after the window and within an
	// eighth of it more.
	dedupSpan = 16
	// minGeneration keeps the clock from ticking absurdly fast for tiny
	// windows (tests).
	minGeneration = time.Millisecond
)

// identitySlots is the size of the cache of (flag, variant, version)
// hashes; a miss only costs hashing the two strings.
const identitySlots = 256

// dedupTable remembers recent exposures.
type dedupTable struct {
	seed  maphash.Seed
	gen   atomic.Uint32 // advanced by the events' clock goroutine
	ids   [identitySlots]atomic.Pointer[identity]
	slots [dedupSlots]atomic.Uint64
}

// identity is what an exposure is of, and its hash.
type identity struct {
	flag, variant string
	version       int64
	hash          uint64
}

// identitySlot picks an identity's cache slot from cheap features of it.
func identitySlot(flag, variant string, version int64) uint64 {
	if flag == "" || variant == "" {
		return 0 // exposures name both; this only keeps the indexing safe
	}
	x := uint64(len(flag))<<32 ^ uint64(len(variant))<<24 ^ uint64(version)
	x ^= uint64(flag[0])<<8 ^ uint64(flag[len(flag)-1])<<16 ^ uint64(variant[len(variant)-1])
	return (x * 0x9e3779b97f4a7c15) >> (64 - 8)
}

// identity returns the hash of (flag, variant, version), and whether it
// came from the cache.
func (t *dedupTable) identity(flag, variant string, version int64) (uint64, bool) {
	if id := t.ids[identitySlot(flag, variant, version)].Load(); id != nil &&
		id.version == version && id.flag == flag && id.variant == variant {
		return id.hash, true
	}
	// Each part is hashed separately and mixed in order, so that swapping
	// parts gives another hash.
	h := mix(maphash.String(t.seed, flag))
	h = mix(h ^ maphash.String(t.seed, variant))
	return mix(h ^ uint64(version)), false
}

// remember caches an identity's hash. It allocates, so only new exposures
// call it.
func (t *dedupTable) remember(flag, variant string, version int64, hash uint64) {
	t.ids[identitySlot(flag, variant, version)].Store(&identity{flag: flag, variant: variant, version: version, hash: hash})
}

// key adds the unit to an identity's hash. Both hashes are uniform
// already, so their exclusive or is too.
func (t *dedupTable) key(identity uint64, unitText string, unitNumber int64) uint64 {
	if unitText != "" {
		return identity ^ maphash.String(t.seed, unitText)
	}
	return identity ^ mix(uint64(unitNumber)^0x9e3779b97f4a7c15)
}

// mix is the 64-bit finalizer of MurmurHash3: every input bit affects
// every output bit.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// seen reports whether key was recorded within the window; if not, it
// stamps key as recorded now. Two goroutines that miss together both
// record, which is an extra exposure.
func (t *dedupTable) seen(key uint64) bool {
	i := key & (dedupSlots - 1) &^ 1 // a bucket is two adjacent slots
	a, b := &t.slots[i], &t.slots[i+1]
	tag := key &^ genMask
	if tag == 0 {
		tag = 1 << genBits // an empty slot (0) must never match
	}
	gen := uint16(t.gen.Load())
	now := tag | uint64(gen)
	ea, eb := a.Load(), b.Load()
	switch {
	case ea&^genMask == tag:
		if gen-uint16(ea) <= dedupSpan {
			return true
		}
		a.Store(now)
	case eb&^genMask == tag:
		if gen-uint16(eb) <= dedupSpan {
			return true
		}
		b.Store(now)
	case ea == 0 || (eb != 0 && gen-uint16(ea) >= gen-uint16(eb)):
		a.Store(now) // a is empty or the older one
	default:
		b.Store(now)
	}
	return false
}

// generation is how long one clock step lasts for a window.
func generation(window time.Duration) time.Duration {
	return max(window/dedupSpan, minGeneration)
}

// dedup returns the table, making it and starting its clock on first use.
func (e *events) dedup() *dedupTable {
	if t := e.table.Load(); t != nil {
		return t
	}
	e.tableMu.Lock()
	defer e.tableMu.Unlock()
	if t := e.table.Load(); t != nil {
		return t
	}
	t := &dedupTable{seed: maphash.MakeSeed()}
	if !e.clockEnded {
		e.clockDone = make(chan struct{})
		go e.clock(t, generation(e.window))
	}
	e.table.Store(t)
	return t
}

// clock advances the table's generation every step until stopClock. It
// counts steps from the elapsed time, so a late tick loses none.
func (e *events) clock(t *dedupTable, step time.Duration) {
	defer close(e.clockDone)
	tick := time.NewTicker(step)
	defer tick.Stop()
	start := time.Now()
	var passed uint32
	for {
		select {
		case <-e.clockStop:
			return
		case <-tick.C:
			if n := uint32(time.Since(start) / step); n > passed {
				t.gen.Add(n - passed)
				passed = n
			}
		}
	}
}

// stopClock stops the clock, if it runs, and keeps it from starting.
func (e *events) stopClock() {
	e.tableMu.Lock()
	e.clockEnded = true
	done := e.clockDone
	e.tableMu.Unlock()
	if done != nil {
		close(e.clockStop)
		<-done
	}
}

// expose records the exposure an evaluation of flag for ctx made, unless
// it was recorded within the window. r has an Allocation and no error.
func (e *events) expose(st *state, flag string, r *eval.Result, ctx *eval.Context) {
	text, number, ok := ctx.Unit(r.Allocation.Unit)
	if !ok {
		return // the split found the unit, so this cannot happen
	}
	t := e.dedup()
	id, cached := t.identity(flag, r.Variant, r.Version)
	if t.seen(t.key(id, text, number)) {
		return
	}
	if !cached {
		t.remember(flag, r.Variant, r.Version, id)
	}
	e.recordExposure(st, flag, r, text, number)
}

// recordExposure buffers a new exposure event.
func (e *events) recordExposure(st *state, flag string, r *eval.Result, text string, number int64) {
	a := r.Allocation
	if st.privacy.private[a.Unit] {
		// The unit's value would leave the application: it never does.
		if e.privateWarned.CompareAndSwap(false, true) {
			e.logger.Warn("weir sdk: a split buckets by a private attribute; its exposures are not recorded",
				"flag", flag, "attribute", a.Unit)
		}
		return
	}
	unit := text
	if unit == "" {
		unit = strconv.FormatInt(number, 10)
	}
	if r.Version < 1 || len(unit) > event.DefaultLimits().MaxStringLength {
		// A flags-file bootstrap has no versions the server knows, and the
		// intake rejects a whole batch for one overlong unit.
		e.dropNew()
		return
	}
	_ = e.add(event.Event{
		Kind:        event.KindExposure,
		Time:        time.Now().UTC(),
		Unit:        unit,
		Flag:        flag,
		Variant:     r.Variant,
		FlagVersion: r.Version,
		Reason:      r.Reason.String(),
		Experiment:  a.Experiment,
		Rollout:     a.Rollout,
	})
}
