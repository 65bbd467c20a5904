package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newEventsCmd(s streams) *cobra.Command {
	var r remote
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Look at an environment's stored events: counts, and a live tail",
		Args:  cobra.NoArgs,
	}
	addRemoteFlags(cmd, &r)
	cmd.AddCommand(newEventsStatsCmd(s, &r), newEventsTailCmd(s, &r))
	return cmd
}

// eventStats is the server's answer to the stats route.
type eventStats struct {
	Environment string     `json:"environment"`
	From        time.Time  `json:"from"`
	To          time.Time  `json:"to"`
	Exposures   int64      `json:"exposures"`
	Tracks      int64      `json:"tracks"`
	Batches     int64      `json:"batches"`
	Dropped     int64      `json:"senderDropped"`
	LastEvent   *time.Time `json:"lastEvent"`
	Flags       []struct {
		Flag       string `json:"flag"`
		Variant    string `json:"variant"`
		Experiment string `json:"experiment"`
		Rollout    string `json:"rollout"`
		Exposures  int64  `json:"exposures"`
	} `json:"flags"`
	Metrics []struct {
		Name      string  `json:"name"`
		Events    int64   `json:"events"`
		WithValue int64   `json:"withValue"`
		Sum       float64 `json:"sum"`
	} `json:"metrics"`
	Intake struct {
		Scope            string           `json:"scope"`
		Since            time.Time        `json:"since"`
		AcceptedBatches  int64            `json:"acceptedBatches"`
		AcceptedEvents   int64            `json:"acceptedEvents"`
		DuplicateBatches int64            `json:"duplicateBatches"`
		RejectedBatches  int64            `json:"rejectedBatches"`
		RejectedEvents   int64            `json:"rejectedEvents"`
		ThrottledBatches int64            `json:"throttledBatches"`
		ThrottledEvents  int64            `json:"throttledEvents"`
		FailedBatches    int64            `json:"failedBatches"`
		Reasons          map[string]int64 `json:"reasons"`
	} `json:"intake"`
}

func newEventsStatsCmd(s streams, r *remote) *cobra.Command {
	var env, window, from, to, output string
	cmd := &cobra.Command{
		Use:   "stats --env ENV [--window 24h | --from T [--to T]] [-o json]",
		Short: "Count an environment's stored events per kind, flag and variant, and metric",
		Long: `Stats counts the environment's stored events whose times fall in a window
(the last 24 hours by default): exposures per flag and variant, track events
per metric, the batches received and what senders reported dropping. It also
shows what the server's intake accepted, rejected and throttled for the
environment since that server process started (not stored; each replica
counts its own).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			if env == "" {
				return errors.New("--env is required")
			}
			if window != "" && from != "" {
				return errors.New("give --window or --from, not both")
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			for name, v := range map[string]string{"window": window, "from": from, "to": to} {
				if v != "" {
					q.Set(name, v)
				}
			}
			raw, err := c.do(cmd.Context(), request{method: "GET", path: pathf("/api/v1/environments/%s/events/stats", env), query: q})
			if err != nil {
				return err
			}
			if output == "json" {
				return writeRaw(s.out, raw)
			}
			var st eventStats
			if err := decodeResponse(raw, &st); err != nil {
				return err
			}
			return writeEventStats(s.out, &st)
		},
	}
	f := cmd.Flags()
	f.StringVar(&env, "env", "", "environment")
	f.StringVar(&window, "window", "", "how far back: a duration such as 24h, 90m or 7d (default 24h)")
	f.StringVar(&from, "from", "", "start of the window (RFC 3339)")
	f.StringVar(&to, "to", "", "end of the window (RFC 3339, default now)")
	f.StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func writeEventStats(w io.Writer, st *eventStats) error {
	ew := &errWriter{w: w}
	ew.printf("Events of %s from %s to %s\n\n", st.Environment, st.From.UTC().Format(time.RFC3339), st.To.UTC().Format(time.RFC3339))
	for _, row := range []struct {
		name string
		n    int64
	}{{"exposures", st.Exposures}, {"track events", st.Tracks}, {"batches", st.Batches}, {"dropped by senders", st.Dropped}} {
		ew.printf("  %-20s %10d\n", row.name, row.n)
	}
	last := "none"
	if st.LastEvent != nil {
		last = st.LastEvent.UTC().Format(time.RFC3339)
	}
	ew.printf("  %-20s %s\n", "last event", last)
	if len(st.Flags) > 0 {
		ew.printf("\n")
		tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FLAG\tVARIANT\tSERVED BY\tEXPOSURES")
		for _, f := range st.Flags {
			by := "-"
			switch {
			case f.Experiment != "":
				by = "experiment " + f.Experiment
			case f.Rollout != "":
				by = "rollout " + f.Rollout
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", f.Flag, f.Variant, by, f.Exposures)
		}
		tw.Flush()
	}
	if len(st.Metrics) > 0 {
		ew.printf("\n")
		tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "METRIC\tEVENTS\tWITH VALUE\tSUM")
		for _, m := range st.Metrics {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", m.Name, m.Events, m.WithValue, strconv.FormatFloat(m.Sum, 'g', -1, 64))
		}
		tw.Flush()
	}
	in := &st.Intake
	ew.printf("\nIntake of this server process since %s (%s):\n", in.Since.UTC().Format(time.RFC3339), "not stored; each replica counts its own")
	ew.printf("  accepted %d batches (%d events, %d of the batches duplicates), rejected %d (%d events), throttled %d (%d events), failed %d\n",
		in.AcceptedBatches, in.AcceptedEvents, in.DuplicateBatches, in.RejectedBatches, in.RejectedEvents, in.ThrottledBatches, in.ThrottledEvents, in.FailedBatches)
	var reasons []string
	for reason, n := range in.Reasons {
		if n > 0 && reason != "stored" && reason != "duplicate" {
			reasons = append(reasons, fmt.Sprintf("%s %d", reason, n))
		}
	}
	if len(reasons) > 0 {
		sort.Strings(reasons)
		ew.printf("  refused by reason: %s\n", strings.Join(reasons, ", "))
	}
	return ew.err
}

// errWriter keeps the first write error, so a long report checks once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = envError{fmt.Errorf("write output: %w", err)}
	}
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// tailEvent is one event of the tail stream.
type tailEvent struct {
	Batch       string          `json:"batch"`
	Kind        string          `json:"kind"`
	Time        time.Time       `json:"time"`
	Unit        string          `json:"unit"`
	Flag        string          `json:"flag"`
	Variant     string          `json:"variant"`
	FlagVersion int64           `json:"flagVersion"`
	Reason      string          `json:"reason"`
	Experiment  string          `json:"experiment"`
	Rollout     string          `json:"rollout"`
	Name        string          `json:"name"`
	Value       *float64        `json:"value"`
	Properties  json.RawMessage `json:"properties"`
}

func (e *tailEvent) line() string {
	var b strings.Builder
	b.WriteString(e.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	b.WriteString("  ")
	switch e.Kind {
	case "exposure":
		fmt.Fprintf(&b, "exposure  unit=%s  %s=%s v%d", e.Unit, e.Flag, e.Variant, e.FlagVersion)
		if e.Reason != "" {
			b.WriteString(" " + e.Reason)
		}
		if e.Experiment != "" {
			b.WriteString(" experiment=" + e.Experiment)
		}
		if e.Rollout != "" {
			b.WriteString(" rollout=" + e.Rollout)
		}
	default:
		fmt.Fprintf(&b, "track     unit=%s  %s", e.Unit, e.Name)
		if e.Value != nil {
			b.WriteString(" value=" + strconv.FormatFloat(*e.Value, 'g', -1, 64))
		}
		if len(e.Properties) > 0 {
			b.WriteString(" ")
			b.Write(e.Properties)
		}
	}
	b.WriteString("  batch=" + e.Batch)
	return b.String()
}

func newEventsTailCmd(s streams, r *remote) *cobra.Command {
	var env, output string
	var count int
	cmd := &cobra.Command{
		Use:   "tail --env ENV [-n COUNT] [-o json]",
		Short: "Print an environment's events as they are stored, one line each",
		Long: `Tail prints each event the server stores for the environment from now on,
one line per event, until interrupted (or after --count events). Units are
shown as their tokens (hex), never as the identifiers applications sent. When
the terminal cannot keep up, the server drops events and tail says how many
on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			if env == "" {
				return errors.New("--env is required")
			}
			if count < 0 {
				return fmt.Errorf("--count %d: must not be negative", count)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			body, err := c.stream(cmd.Context(), pathf("/api/v1/environments/%s/events/tail", env))
			if err != nil {
				return err
			}
			defer body.Close()
			err = readTail(body, count, func(kind, data string) error {
				switch kind {
				case "exposure", "track":
					if output == "json" {
						_, err := fmt.Fprintln(s.out, data)
						return err
					}
					var ev tailEvent
					if err := json.Unmarshal([]byte(data), &ev); err != nil {
						return envError{fmt.Errorf("the server sent an event that is not the expected JSON: %w", err)}
					}
					_, err := fmt.Fprintln(s.out, ev.line())
					return err
				case "dropped":
					var d struct {
						Dropped int64 `json:"dropped"`
					}
					if json.Unmarshal([]byte(data), &d) == nil {
						fmt.Fprintf(s.err, "weir: %d events not shown: this tail fell behind\n", d.Dropped)
					}
				}
				return nil
			})
			if cmd.Context().Err() != nil {
				return nil // interrupted: the normal way to stop
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&env, "env", "", "environment")
	f.IntVarP(&count, "count", "n", 0, "stop after this many events (0: until interrupted)")
	f.StringVarP(&output, "output", "o", "text", "text (one line per event) or json (one object per line)")
	return cmd
}

// readTail reads Server-Sent Events and calls fn with each event's name
// and data, until count exposure and track events were read (0: no
// limit) or the stream ends, which is an environment error: the server
// went away.
func readTail(r io.Reader, count int, fn func(kind, data string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var kind, data string
	seen := 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != "" {
				if err := fn(kind, data); err != nil {
					return err
				}
				if kind == "exposure" || kind == "track" {
					seen++
					if count > 0 && seen >= count {
						return nil
					}
				}
			}
			kind, data = "", ""
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			kind = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		}
	}
	if err := sc.Err(); err != nil {
		return envError{fmt.Errorf("the event stream broke off: %w", err)}
	}
	return envError{errors.New("the server ended the event stream")}
}

// stream GETs path and returns the body of a 2xx response, for reading as
// long as the server sends. Unlike do it sets no overall timeout, only one
// for the response to begin.
func (c *client) stream(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := c.newRequest(ctx, request{method: "GET", path: path}, "text/event-stream, application/problem+json")
	if err != nil {
		return nil, err
	}
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, envError{fmt.Errorf("cannot reach the Weir server at %s: %w", c.base.Redacted(), unwrapURLError(err))}
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		return nil, responseError(resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	return resp.Body, nil
}
