package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/weirhq/weir/flagmodel"
)

// flagsFile is a flags file read from disk or stdin, parsed but not yet
// validated.
type flagsFile struct {
	// name is how messages refer to the file: its path, or "<stdin>".
	name string
	file *flagmodel.File
}

// readInput opens path, or stdin for "-", and reads it whole, up to limit
// bytes. A path that cannot be opened is the user's error; a read that fails
// midway is the environment's.
func readInput(s streams, path string, limit int64) (data []byte, name string, err error) {
	var r io.Reader
	name = path
	if path == "" {
		return nil, name, errors.New("no file name given (use - for stdin)")
	}
	if path == "-" {
		r, name = s.in, "<stdin>"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, name, openError(path, err)
		}
		defer f.Close()
		r = f
	}
	data, err = io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		if errors.Is(err, syscall.EISDIR) {
			return nil, name, fmt.Errorf("read %s: it is a directory, not a file", name)
		}
		return nil, name, envError{fmt.Errorf("read %s: %w", name, err)}
	}
	if int64(len(data)) > limit {
		return nil, name, fmt.Errorf("%s: file is larger than the limit of %d bytes", name, limit)
	}
	return data, name, nil
}

// openError words the common reasons a path cannot be opened; all of them are
// the user's to fix.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied", path)
	}
	return fmt.Errorf("open %s: %w", path, err)
}

// loadFlagsFile reads and parses a flags file. A file that does not parse
// gives a problemsError listing what the parser reported, and a flagsFile
// holding only the name to prefix them with.
func loadFlagsFile(s streams, path string) (*flagsFile, error) {
	data, name, err := readInput(s, path, flagmodel.MaxFileSize)
	if err != nil {
		return nil, err
	}
	f, err := flagmodel.Parse(data)
	if err != nil {
		return &flagsFile{name: name}, parseProblems(err)
	}
	return &flagsFile{name: name, file: f}, nil
}

// problemsError carries the problems of a file that failed to parse or to
// validate, so the caller chooses how to print them.
type problemsError struct {
	problems []flagmodel.Problem
}

func (e problemsError) Error() string {
	return fmt.Sprintf("%d problems", len(e.problems))
}

// parseProblems splits a parse error into problems. The YAML decoder joins
// several type errors (for example every unknown field) with "; ", each
// starting with "line N: "; they are listed one per line like validation
// problems.
func parseProblems(err error) problemsError {
	msg := err.Error()
	parts := strings.Split(msg, "; line ")
	problems := make([]flagmodel.Problem, 0, len(parts))
	for i, p := range parts {
		if i > 0 {
			p = "line " + p
		}
		problems = append(problems, lineProblem(p))
	}
	return problemsError{problems: problems}
}

// lineProblem turns "line 3, column 5: message" into a Problem whose Where is
// "line 3, column 5".
func lineProblem(msg string) flagmodel.Problem {
	if strings.HasPrefix(msg, "line ") {
		if where, rest, ok := strings.Cut(msg, ": "); ok {
			return flagmodel.Problem{Where: where, Message: rest}
		}
	}
	return flagmodel.Problem{Message: msg}
}

// validationProblems returns the problems of a Validate or Prepare error, or
// nil when err is of another kind.
func validationProblems(err error) []flagmodel.Problem {
	var ve *flagmodel.ValidationError
	if errors.As(err, &ve) {
		return ve.Problems
	}
	return nil
}

// printProblems writes one line per problem, prefixed with the file name,
// then a count line.
func printProblems(w io.Writer, name string, problems []flagmodel.Problem) error {
	var b strings.Builder
	for _, p := range problems {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%s: %s\n", name, plural(len(problems), "problem"))
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// environmentKeys lists the environments of f: the declared ones in declared
// order, then any a flag configures without a declaration, sorted (Validate
// allows those only when the file declares no environment at all).
func environmentKeys(f *flagmodel.File) []string {
	keys := make([]string, 0, len(f.Environments))
	seen := make(map[string]bool, len(f.Environments))
	for _, e := range f.Environments {
		if !seen[e.Key] {
			seen[e.Key] = true
			keys = append(keys, e.Key)
		}
	}
	var extra []string
	for _, fl := range f.Flags {
		for e := range fl.Environments {
			if !seen[e] {
				seen[e] = true
				extra = append(extra, e)
			}
		}
	}
	slices.Sort(extra)
	return append(keys, extra...)
}
