package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/weirhq/weir/internal/store"
)

// Entry is one audit-log record, as stores read and write it.
type Entry = store.AuditEntry

// encodingTag is the first field of every hashed encoding; see the package
// documentation.
const encodingTag = "weir-audit-v1"

// ErrBroken is matched by every error Verify returns, for errors.Is.
var ErrBroken = errors.New("audit chain broken")

// BrokenError reports the first entry whose link in the chain does not hold.
type BrokenError struct {
	// Seq is the sequence number of the first entry that fails.
	Seq int64
	// Problem says what is wrong with it.
	Problem string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit entry %d: %s", e.Seq, e.Problem)
}

// Is makes errors.Is(err, ErrBroken) true.
func (e *BrokenError) Is(target error) bool { return target == ErrBroken }

// Hash returns the hash of e chained to prev, the previous entry's hash (nil
// or empty for the first entry). It ignores e.PrevHash and e.Hash.
func Hash(prev []byte, e Entry) []byte {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], uint64(e.Seq))
	field([]byte(encodingTag))
	field(seq[:])
	field([]byte(e.Time.UTC().Format(time.RFC3339Nano)))
	field([]byte(e.Actor))
	field([]byte(e.Action))
	field([]byte(e.Target))
	field(e.Diff)
	field([]byte(e.Reason))
	field(prev)
	return h.Sum(nil)
}

// Verify checks that entries form an unbroken chain: sequence numbers
// increase by one, each entry's PrevHash is the previous entry's Hash, and
// each Hash is what Hash computes. The first entry's PrevHash is trusted as
// given, so a window of the log (for example the result of one Audit page)
// can be verified on its own; when the window starts at sequence 1 its
// PrevHash must be empty. Verify returns a *BrokenError for the first entry
// that fails, or nil.
func Verify(entries []Entry) error {
	for i, e := range entries {
		switch {
		case i == 0 && e.Seq == 1 && len(e.PrevHash) != 0:
			return &BrokenError{Seq: e.Seq, Problem: "first entry has a previous hash"}
		case i > 0 && e.Seq != entries[i-1].Seq+1:
			return &BrokenError{Seq: e.Seq, Problem: fmt.Sprintf("follows entry %d: sequence has a gap or is out of order", entries[i-1].Seq)}
		case i > 0 && !bytes.Equal(e.PrevHash, entries[i-1].Hash):
			return &BrokenError{Seq: e.Seq, Problem: fmt.Sprintf("previous hash %s does not match the hash of entry %d", short(e.PrevHash), entries[i-1].Seq)}
		}
		if want := Hash(e.PrevHash, e); !bytes.Equal(e.Hash, want) {
			return &BrokenError{Seq: e.Seq, Problem: fmt.Sprintf("hash %s does not match its content (want %s)", short(e.Hash), short(want))}
		}
	}
	return nil
}

// short abbreviates a hash for error messages.
func short(h []byte) string {
	s := hex.EncodeToString(h)
	if len(s) > 12 {
		s = s[:12]
	}
	if s == "" {
		return "(empty)"
	}
	return s
}
