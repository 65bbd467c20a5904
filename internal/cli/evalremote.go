package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/internal/jsonappend"
)

// remoteBatch is how many contexts one evaluate request carries; the
// server accepts more, but smaller requests keep output flowing and memory
// bounded.
const remoteBatch = 1000

// remoteEvaluator evaluates contexts through a server's evaluate endpoint
// and writes the results in exactly the format of offline eval, with the
// same writer.
type remoteEvaluator struct {
	c       *client
	env     string
	flags   []string
	explain bool
	outputs map[string]*flagOutput
}

// remoteResult is one result of the evaluate endpoint. Value stays raw so
// object values keep the key order the server wrote.
type remoteResult struct {
	Flag         string          `json:"flag"`
	Variant      string          `json:"variant"`
	Value        json.RawMessage `json:"value"`
	Reason       eval.Reason     `json:"reason"`
	RuleID       string          `json:"ruleId"`
	ErrorCode    eval.ErrorCode  `json:"errorCode"`
	ErrorMessage string          `json:"errorMessage"`
	Trace        *eval.Trace     `json:"trace"`
}

// runRemoteEval is eval without -f: the server named by --server or
// WEIR_SERVER evaluates, with the flags it serves right now.
func runRemoteEval(ctx context.Context, s streams, r *remote, o evalOptions) error {
	if o.contextsSet && o.contexts == "" {
		return fmt.Errorf("--contexts needs a file name, or - for stdin")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	re := &remoteEvaluator{c: c, env: o.env, flags: o.flags, explain: o.explain, outputs: map[string]*flagOutput{}}
	out := bufio.NewWriterSize(s.out, 64<<10)
	if !o.contextsSet {
		if _, err := newContextDecoder().decode([]byte(o.context)); err != nil {
			return fmt.Errorf("--context: %w", err)
		}
		err = re.evaluate(ctx, out, []json.RawMessage{json.RawMessage(o.context)})
	} else {
		err = re.streamFrom(ctx, s, o.contexts, out)
	}
	if ferr := out.Flush(); ferr != nil && err == nil {
		err = envError{fmt.Errorf("write results: %w", ferr)}
	}
	return err
}

// streamFrom reads contexts line by line, checks each like offline eval
// does, and evaluates them in batches. A bad line stops the command after
// the results of every line before it, as offline.
func (re *remoteEvaluator) streamFrom(ctx context.Context, s streams, path string, w io.Writer) error {
	r, name := s.in, "<stdin>"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return openError(path, err)
		}
		defer f.Close()
		r, name = f, path
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxContextLine)
	dec := newContextDecoder()
	batch := make([]json.RawMessage, 0, remoteBatch)
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Bytes()
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		if _, err := dec.decode(raw); err != nil {
			if ferr := re.evaluate(ctx, w, batch); ferr != nil {
				return ferr
			}
			return fmt.Errorf("%s: line %d: %w", name, line, err)
		}
		batch = append(batch, bytes.Clone(raw))
		if len(batch) == remoteBatch {
			if err := re.evaluate(ctx, w, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := scanError(sc.Err(), name, line+1); err != nil {
		if ferr := re.evaluate(ctx, w, batch); ferr != nil {
			return ferr
		}
		return err
	}
	return re.evaluate(ctx, w, batch)
}

// evaluate sends one batch and writes its results in input order.
func (re *remoteEvaluator) evaluate(ctx context.Context, w io.Writer, contexts []json.RawMessage) error {
	if len(contexts) == 0 {
		return nil
	}
	req := struct {
		Contexts []json.RawMessage `json:"contexts"`
		Flags    []string          `json:"flags,omitempty"`
		Explain  bool              `json:"explain,omitempty"`
	}{contexts, re.flags, re.explain}
	var resp struct {
		Results [][]remoteResult `json:"results"`
	}
	if _, err := re.c.sendJSON(ctx, http.MethodPost, pathf("/api/v1/environments/%s/evaluate", re.env), req, &resp); err != nil {
		return err
	}
	if len(resp.Results) != len(contexts) {
		return envError{fmt.Errorf("the server returned results for %d contexts, not %d", len(resp.Results), len(contexts))}
	}
	var buf []byte
	for _, row := range resp.Results {
		for i := range row {
			rr := &row[i]
			res := eval.Result{Variant: rr.Variant, Reason: rr.Reason, RuleID: rr.RuleID,
				ErrorCode: rr.ErrorCode, ErrorMessage: rr.ErrorMessage}
			if len(rr.Value) > 0 && string(rr.Value) != "null" {
				res.Value = rr.Value // appendVariant compacts raw JSON
			}
			buf = re.output(rr.Flag).appendResult(buf, &res, rr.Trace)
		}
	}
	if _, err := w.Write(buf); err != nil {
		return envError{fmt.Errorf("write results: %w", err)}
	}
	return nil
}

// output returns the (cached) writer of one flag's lines.
func (re *remoteEvaluator) output(key string) *flagOutput {
	fo := re.outputs[key]
	if fo == nil {
		fo = &flagOutput{key: key, open: jsonappend.String([]byte(`{"flag":`), key)}
		re.outputs[key] = fo
	}
	return fo
}
