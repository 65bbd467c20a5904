package sdk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
)

// wireSnapshot is the document of GET /sdk/v1/snapshot and of the stream's
// "snapshot" events (the server's SDKSnapshot).
type wireSnapshot struct {
	Environment  string           `json:"environment"`
	Version      int64            `json:"version"`
	File         json.RawMessage  `json:"file"`
	FlagVersions map[string]int64 `json:"flagVersions"`
}

// state is what evaluations read: one prepared snapshot and where it came
// from. It is never modified once published.
type state struct {
	snap    *eval.Snapshot
	env     string
	version int64
	privacy privacy
}

// privacy is what the environment says may leave the application in
// events.
type privacy struct {
	// private holds the attributes that are never sent.
	private map[string]bool
	// allowed holds the track properties the environment keeps, or is nil
	// when the snapshot carries no allow-list (the intake filters then).
	allowed map[string]bool
}

// privacyOf reads environment env's rules from a flags file.
func privacyOf(f *flagmodel.File, env string) privacy {
	var p privacy
	for _, e := range f.Environments {
		if e.Key != env {
			continue
		}
		if len(e.PrivateAttributes) > 0 {
			p.private = make(map[string]bool, len(e.PrivateAttributes))
			for _, a := range e.PrivateAttributes {
				p.private[a] = true
			}
		}
		if len(e.EventProperties) > 0 {
			p.allowed = make(map[string]bool, len(e.EventProperties))
			for _, a := range e.EventProperties {
				p.allowed[a] = true
			}
		}
	}
	return p
}

// maxSnapshotBytes bounds a snapshot document: a flags file at its limit
// plus the envelope.
const maxSnapshotBytes = flagmodel.MaxFileSize + 1<<20

// decodeSnapshot parses and prepares a snapshot document. wantEnv, when not
// empty, is the only environment accepted. Anything wrong — bad JSON, a
// missing part, an invalid flags file — is an error, so a damaged document
// never replaces a good snapshot.
func decodeSnapshot(data []byte, wantEnv string) (*state, error) {
	if len(data) > maxSnapshotBytes {
		return nil, fmt.Errorf("snapshot is %d bytes, above the limit of %d", len(data), maxSnapshotBytes)
	}
	var w wireSnapshot
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode snapshot: unexpected data after the document")
	}
	switch {
	case w.Environment == "":
		return nil, errors.New("snapshot names no environment")
	case wantEnv != "" && w.Environment != wantEnv:
		return nil, fmt.Errorf("snapshot is of environment %q, not %q", w.Environment, wantEnv)
	case len(w.File) == 0 || w.File[0] != '{':
		return nil, errors.New("snapshot has no flags file")
	}
	f, err := flagmodel.Parse(w.File)
	if err != nil {
		return nil, fmt.Errorf("snapshot flags file: %w", err)
	}
	for i := range f.Flags {
		for env, st := range f.Flags[i].Environments {
			if env != w.Environment {
				return nil, fmt.Errorf("snapshot flag %q has a state in environment %q", f.Flags[i].Key, env)
			}
			st.Version = w.FlagVersions[f.Flags[i].Key]
		}
	}
	snap, err := eval.Prepare(f, w.Environment)
	if err != nil {
		return nil, fmt.Errorf("snapshot flags file: %w", err)
	}
	return &state{snap: snap, env: w.Environment, version: w.Version, privacy: privacyOf(f, w.Environment)}, nil
}

// decodeBootstrap reads a bootstrap document: a snapshot document as the
// server sends it, or a flags file (YAML or JSON) of which env — or, when
// env is empty, its only environment — is used, at version 0.
func decodeBootstrap(data []byte, env string) (*state, error) {
	if flagmodel.DetectFormat(data) == flagmodel.FormatJSON {
		var probe map[string]json.RawMessage
		if json.Unmarshal(data, &probe) == nil && probe["file"] != nil && probe["environment"] != nil {
			return decodeSnapshot(data, env)
		}
	}
	f, err := flagmodel.Parse(data)
	if err != nil {
		return nil, err
	}
	if env == "" {
		if len(f.Environments) != 1 {
			return nil, fmt.Errorf("the flags file declares %d environments; say which one with WithEnvironment", len(f.Environments))
		}
		env = f.Environments[0].Key
	}
	snap, err := eval.Prepare(f, env)
	if err != nil {
		return nil, err
	}
	return &state{snap: snap, env: env, privacy: privacyOf(f, env)}, nil
}

// cacheFile names the last-known-good snapshot of an SDK key in dir. The
// name is derived from the key's hash: the key itself is never written.
func cacheFile(dir, sdkKey string) string {
	sum := sha256.Sum256([]byte(sdkKey))
	return filepath.Join(dir, "weir-snapshot-"+hex.EncodeToString(sum[:8])+".json")
}

// writeFileAtomic replaces path with data so that readers see the old or
// the new content, never a mix: a temporary file in the same directory,
// synced, then renamed over path.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write cache %q: %w", path, err)
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write cache %q: %w", path, werr)
	}
	return nil
}
