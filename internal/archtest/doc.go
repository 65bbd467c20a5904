// Package archtest holds no code, only a test that enforces the package
// layering of Weir: imports point toward purer packages, and the pure core
// (model, evaluation, statistics) performs no I/O.
package archtest
