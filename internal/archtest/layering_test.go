package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/weirhq/weir"

// allowed lists, for each package (prefix match on the path below the
// module), the module packages it may import. Packages not listed may import
// anything in the module except the CLI, the composition root and cmd.
var allowed = map[string][]string{
	"flagmodel":          {"internal/semver", "internal/timestamp"},
	"eval":               {"flagmodel", "internal/semver", "internal/timestamp"},
	"event":              {},
	"sdk":                {"flagmodel", "eval", "event", "internal/semver", "internal/timestamp"},
	"sdk/openfeature":    {"sdk", "flagmodel", "eval", "event"},
	"internal/stats":     {},
	"internal/semver":    {},
	"internal/timestamp": {},
}

// pure packages must not do I/O or logging. fmt reaches os, so "os" can only
// be checked among direct imports; networking, databases, processes and
// structured logging are checked transitively.
var pure = []string{"flagmodel", "eval", "internal/stats", "internal/semver", "internal/timestamp"}

var (
	forbiddenDirect     = []string{"os", "context", "log", "log/slog", "io/ioutil", "net/http", "database/sql", "os/exec", "net", "syscall"}
	forbiddenTransitive = []string{"net/http", "database/sql", "log/slog", "os/exec", "net"}
)

type pkg struct {
	path    string
	imports []string
	deps    []string
}

func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	pkgs := map[string]pkg{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(parts[0], module), "/")
		pkgs[rel] = pkg{path: rel, imports: strings.Fields(parts[1]), deps: strings.Fields(parts[2])}
	}
	return pkgs
}

func TestImportsPointTowardPurerPackages(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("found only %d packages", len(pkgs))
	}
	for rel, p := range pkgs {
		allow, restricted := allowed[rel]
		for _, imp := range p.imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			target := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			if restricted && !contains(allow, target) {
				t.Errorf("%s imports %s; it may only import %v from this module", rel, target, allow)
			}
			if !restricted && (target == "internal/cli" || target == "internal/app" || strings.HasPrefix(target, "cmd")) && !strings.HasPrefix(rel, "cmd") && rel != "internal/cli" {
				t.Errorf("%s imports %s, which only cmd/ (and the CLI, for the composition root) may import", rel, target)
			}
		}
	}
}

func TestThePureCoreDoesNoIO(t *testing.T) {
	pkgs := listPackages(t)
	for _, rel := range pure {
		p, ok := pkgs[rel]
		if !ok {
			continue // not built yet
		}
		for _, imp := range p.imports {
			if contains(forbiddenDirect, imp) {
				t.Errorf("%s imports %s; the pure core must not do I/O or logging", rel, imp)
			}
		}
		for _, dep := range p.deps {
			if contains(forbiddenTransitive, dep) {
				t.Errorf("%s depends on %s; the pure core must not do I/O or logging", rel, dep)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
