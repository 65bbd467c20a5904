// Package storetest is the conformance suite every store.Store backend
// must pass. A backend's test calls Run with a function that opens a fresh,
// empty store; each sub-test states one rule of the store contract and
// checks it through the public interface only.
//
// The package also provides the shared benchmark bodies (CommitFlags,
// LoadFlags, AppendEvents), so every backend's figures measure the same
// work.
package storetest
