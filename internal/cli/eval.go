package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/jsonappend"
)

type evalOptions struct {
	file     string
	env      string
	flags    []string
	context  string
	contexts string
	explain  bool
	// contextsSet tells --contexts "" from no --contexts.
	contextsSet bool
}

func newEvalCmd(s streams) *cobra.Command {
	var o evalOptions
	var r remote
	cmd := &cobra.Command{
		Use:   "eval (-f FILE | --server URL) --env ENV (--context JSON | --contexts FILE.jsonl)",
		Short: "Evaluate flags from a flags file, or on a server, for one or many contexts",
		Long: `Eval evaluates flags of one environment of a flags file, with the same engine
as the server and the SDKs, for one context (--context) or for every line of a
JSON Lines file of contexts (--contexts, - for stdin). A context is a JSON
object of attributes; "targetingKey", when present, must be a string.

It prints one JSON object per line, for each context in input order and, for
each context, each flag in the order given by --flag (all flags sorted by key
without it):

  {"flag":"checkout","variant":"on","value":true,"reason":"TARGETING_MATCH","ruleId":"beta"}

Empty fields are left out; "errorCode" comes with "errorMessage", and
--explain adds "trace", the steps that led to the result.

Contexts are streamed: output for earlier lines is written before later lines
are read. A line that is not a valid context stops the command with exit code
1, after the output of every line before it and nothing for that line.

Without -f, when --server is given or WEIR_SERVER is set, the server
evaluates instead, with the flags it serves right now (in batches of 1,000
contexts); the output is the same.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.contextsSet = cmd.Flags().Changed("contexts")
			if o.file == "" {
				if cmd.Flags().Changed("server") || os.Getenv("WEIR_SERVER") != "" {
					return runRemoteEval(cmd.Context(), s, &r, o)
				}
				return errors.New(`required flag(s) "file" not set (or give --server to evaluate on a running server)`)
			}
			return runEval(cmd.Context(), s, o)
		},
	}
	addRemoteFlags(cmd, &r)
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "flags file (YAML or JSON), or - for stdin")
	f.StringVar(&o.env, "env", "", "environment to evaluate in")
	f.StringSliceVar(&o.flags, "flag", nil, "flag to evaluate, repeatable or comma-separated (default: every flag, sorted by key)")
	f.StringVar(&o.context, "context", "", "one context as a JSON object")
	f.StringVar(&o.contexts, "contexts", "", "JSON Lines file of contexts, one object per line, or - for stdin")
	f.BoolVar(&o.explain, "explain", false, "add a trace of every evaluation step")
	_ = cmd.MarkFlagRequired("env")
	cmd.MarkFlagsMutuallyExclusive("context", "contexts")
	cmd.MarkFlagsOneRequired("context", "contexts")
	return cmd
}

func runEval(ctx context.Context, s streams, o evalOptions) error {
	if o.contextsSet && o.contexts == "" {
		return errors.New("--contexts needs a file name, or - for stdin")
	}
	if o.file == "-" && o.contexts == "-" {
		return errors.New("the flags file and the contexts cannot both be read from stdin")
	}
	ff, err := loadFlagsFile(s, o.file)
	var pe problemsError
	if errors.As(err, &pe) {
		return printedProblems(s, ff.name, pe.problems)
	}
	if err != nil {
		return err
	}
	snap, err := eval.Prepare(ff.file, o.env)
	if problems := validationProblems(err); problems != nil {
		return printedProblems(s, ff.name, problems)
	}
	if err != nil {
		return fmt.Errorf("prepare %s: %w", ff.name, err)
	}
	known := environmentKeys(ff.file)
	if !slices.Contains(known, o.env) {
		if len(known) == 0 {
			return fmt.Errorf("unknown environment %q: %s declares no environment and configures no flag in one", o.env, ff.name)
		}
		return fmt.Errorf("unknown environment %q in %s (known: %s)", o.env, ff.name, strings.Join(known, ", "))
	}
	keys := o.flags
	if len(keys) == 0 {
		keys = snap.Keys()
	}
	var unknown []string
	for _, k := range keys {
		if !snap.Has(k) && !slices.Contains(unknown, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		fmt.Fprintf(s.err, "weir: warning: %s has no flag %s; evaluations give FLAG_NOT_FOUND\n",
			ff.name, quoteList(unknown))
	}
	ev := newEvaluator(snap, ff.file, keys, o.explain)

	out := bufio.NewWriterSize(s.out, 64<<10)
	if !o.contextsSet {
		err = ev.single(out, []byte(o.context))
	} else {
		err = ev.streamFrom(ctx, s, o.contexts, out)
	}
	if ferr := out.Flush(); ferr != nil && err == nil {
		err = envError{fmt.Errorf("write results: %w", ferr)}
	}
	return err
}

// printedProblems prints a flags file's problems on stderr and returns the
// error that exits 1 without printing more.
func printedProblems(s streams, name string, problems []flagmodel.Problem) error {
	if err := printProblems(s.err, name, problems); err != nil {
		return envError{fmt.Errorf("write problems: %w", err)}
	}
	return silentExit{code: ExitUserError}
}

func quoteList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, ", ")
}

// evaluator evaluates a fixed list of flags for contexts and appends the
// results as JSON lines. It is read-only once built, so workers share it.
type evaluator struct {
	snap    *eval.Snapshot
	flags   []flagOutput
	explain bool
}

// flagOutput holds what can be encoded once per flag: the opening of its
// output object and, per variant, the encoded variant name and value.
type flagOutput struct {
	key      string
	open     []byte // {"flag":"key"
	variants []variantOutput
}

type variantOutput struct {
	name    string
	encoded []byte // ,"variant":"name","value":…
}

// Encoded reasons and error codes, indexed by their enum value.
var reasonFields, errorCodeFields [256][]byte

func init() {
	for i := range 256 {
		if name := eval.Reason(i).String(); name != "" && name != "UNKNOWN" {
			reasonFields[i] = jsonappend.String([]byte(`,"reason":`), name)
		}
		if name := eval.ErrorCode(i).String(); name != "" {
			errorCodeFields[i] = jsonappend.String([]byte(`,"errorCode":`), name)
		}
	}
}

func newEvaluator(snap *eval.Snapshot, f *flagmodel.File, keys []string, explain bool) *evaluator {
	models := make(map[string]*flagmodel.Flag, len(f.Flags))
	for i := range f.Flags {
		models[f.Flags[i].Key] = &f.Flags[i]
	}
	ev := &evaluator{snap: snap, explain: explain, flags: make([]flagOutput, len(keys))}
	for i, k := range keys {
		fo := flagOutput{key: k, open: jsonappend.String([]byte(`{"flag":`), k)}
		if m := models[k]; m != nil {
			for _, v := range m.Variants {
				fo.variants = append(fo.variants, variantOutput{name: v.Key, encoded: appendVariant(nil, v.Key, v.Value)})
			}
		}
		ev.flags[i] = fo
	}
	return ev
}

// appendVariant appends the variant and value fields. Scalars are appended
// directly; object values go through encoding/json. Values come from a
// validated file, so a value JSON cannot hold (NaN) is written as null
// rather than failing the whole run.
func appendVariant(b []byte, name string, value any) []byte {
	if name != "" {
		b = append(b, `,"variant":`...)
		b = jsonappend.String(b, name)
	}
	if value == nil {
		return b
	}
	b = append(b, `,"value":`...)
	switch v := value.(type) {
	case bool:
		return strconv.AppendBool(b, v)
	case string:
		return jsonappend.String(b, v)
	case float64:
		if out, ok := jsonappend.Float(b, v); ok {
			return out
		}
		return append(b, "null"...)
	}
	enc, err := json.Marshal(value)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, enc...)
}

// appendResult appends one output line for flag fo.
func (fo *flagOutput) appendResult(b []byte, r *eval.Result, trace *eval.Trace) []byte {
	b = append(b, fo.open...)
	if r.Variant != "" || r.Value != nil {
		found := false
		for i := range fo.variants {
			if fo.variants[i].name == r.Variant {
				b = append(b, fo.variants[i].encoded...)
				found = true
				break
			}
		}
		if !found {
			b = appendVariant(b, r.Variant, r.Value)
		}
	}
	b = append(b, reasonFields[r.Reason]...)
	if r.RuleID != "" {
		b = append(b, `,"ruleId":`...)
		b = jsonappend.String(b, r.RuleID)
	}
	if r.ErrorCode != 0 {
		b = append(b, errorCodeFields[r.ErrorCode]...)
		b = append(b, `,"errorMessage":`...)
		b = jsonappend.String(b, r.ErrorMessage)
	}
	if trace != nil {
		b = append(b, `,"trace":`...)
		steps, err := json.Marshal(trace.Steps)
		if err != nil || trace.Steps == nil {
			steps = []byte("[]")
		}
		b = append(b, steps...)
	}
	return append(b, '}', '\n')
}

// appendContext evaluates every flag for c and appends one line per flag.
func (ev *evaluator) appendContext(b []byte, c *eval.Context) []byte {
	for i := range ev.flags {
		fo := &ev.flags[i]
		if ev.explain {
			r, trace := ev.snap.Explain(fo.key, c)
			b = fo.appendResult(b, &r, trace)
			continue
		}
		r := ev.snap.Evaluate(fo.key, c)
		b = fo.appendResult(b, &r, nil)
	}
	return b
}

// single evaluates the one context given with --context.
func (ev *evaluator) single(w io.Writer, raw []byte) error {
	c, err := newContextDecoder().decode(raw)
	if err != nil {
		return fmt.Errorf("--context: %w", err)
	}
	if _, err := w.Write(ev.appendContext(nil, &c)); err != nil {
		return envError{fmt.Errorf("write results: %w", err)}
	}
	return nil
}

// streamFrom opens the contexts file (or stdin for "-") and streams it.
func (ev *evaluator) streamFrom(ctx context.Context, s streams, path string, w io.Writer) error {
	r, name := s.in, "<stdin>"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return openError(path, err)
		}
		defer f.Close()
		r, name = f, path
	}
	return ev.stream(ctx, r, name, w)
}

// stream evaluates every context line of r in order and writes the results
// to w as it goes. Blank lines are skipped but counted, so line numbers in
// errors match the file.
func (ev *evaluator) stream(ctx context.Context, r io.Reader, name string, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxContextLine)
	var buf []byte
	dec := newContextDecoder()
	line := 0
	for sc.Scan() {
		line++
		if line&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("%s: stopped before line %d: %w", name, line, err)
			}
		}
		raw := sc.Bytes()
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		c, err := dec.decode(raw)
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", name, line, err)
		}
		buf = ev.appendContext(buf[:0], &c)
		if _, err := w.Write(buf); err != nil {
			return envError{fmt.Errorf("write results: %w", err)}
		}
	}
	return scanError(sc.Err(), name, line+1)
}

// scanError words a failure to read the next line of a contexts file.
func scanError(err error, name string, line int) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bufio.ErrTooLong):
		return fmt.Errorf("%s: line %d: longer than the limit of %d bytes", name, line, maxContextLine)
	}
	return envError{fmt.Errorf("read %s: %w", name, err)}
}
