package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/weirhq/weir/internal/audit"
	"github.com/weirhq/weir/internal/store"
)

func newAuditCmd(s streams) *cobra.Command {
	var r remote
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the hash-chained audit log",
		Args:  cobra.NoArgs,
	}
	addRemoteFlags(cmd, &r)
	cmd.AddCommand(newAuditListCmd(s, &r), newAuditVerifyCmd(s, &r))
	return cmd
}

// auditEntry is an audit entry as the server sends it.
type auditEntry struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Target   string    `json:"target"`
	Diff     string    `json:"diff"` // the exact JSON text the hash covers
	Reason   string    `json:"reason"`
	PrevHash []byte    `json:"prevHash"`
	Hash     []byte    `json:"hash"`
}

func (e auditEntry) entry() audit.Entry {
	return store.AuditEntry{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target,
		Diff: json.RawMessage(e.Diff), Reason: e.Reason, PrevHash: e.PrevHash, Hash: e.Hash}
}

const auditPage = 1000

func newAuditListCmd(s streams, r *remote) *cobra.Command {
	var after int64
	var limit int
	var output string
	cmd := &cobra.Command{
		Use:   "list [--after SEQ] [--limit N] [-o json]",
		Short: "List audit entries: sequence, time, actor, action, target and reason",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			if limit < 1 || limit > auditPage {
				return fmt.Errorf("--limit %d: between 1 and %d", limit, auditPage)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			var page struct {
				Entries []auditEntry `json:"entries"`
			}
			q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(limit)}}
			if err := c.getJSON(cmd.Context(), "/api/v1/audit", q, &page); err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(page.Entries)
			}
			for _, e := range page.Entries {
				line := fmt.Sprintf("%6d  %s  %-24s %-16s %s", e.Seq, e.Time.UTC().Format(time.RFC3339), e.Actor, e.Action, e.Target)
				if e.Reason != "" {
					line += fmt.Sprintf("  %q", e.Reason)
				}
				fmt.Fprintln(s.out, line)
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&after, "after", 0, "show entries after this sequence number")
	cmd.Flags().IntVar(&limit, "limit", 100, "number of entries")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func newAuditVerifyCmd(s streams, r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Download the whole audit log and verify its hash chain locally",
		Long: `Verify reads every audit entry, page by page, and recomputes each entry's
hash from its fields and the previous entry's hash. It trusts nothing the
server says about the chain: an edited, removed or reordered entry breaks it.
Exit 0 when the chain is intact, 1 with the first broken entry otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			var prev *audit.Entry
			var count int64
			after := int64(0)
			for {
				var page struct {
					Entries []auditEntry `json:"entries"`
				}
				q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(auditPage)}}
				if err := c.getJSON(cmd.Context(), "/api/v1/audit", q, &page); err != nil {
					return err
				}
				if len(page.Entries) == 0 {
					break
				}
				chain := make([]audit.Entry, 0, len(page.Entries)+1)
				if prev != nil {
					chain = append(chain, *prev) // links this page to the last one
				}
				for _, e := range page.Entries {
					chain = append(chain, e.entry())
				}
				if chain[0].Seq != 1 && prev == nil {
					return fmt.Errorf("audit log broken: it starts at entry %d, not 1", chain[0].Seq)
				}
				if err := audit.Verify(chain); err != nil {
					var be *audit.BrokenError
					if errors.As(err, &be) {
						return fmt.Errorf("audit log broken at entry %d: %s", be.Seq, be.Problem)
					}
					return err
				}
				last := chain[len(chain)-1]
				prev = &last
				count += int64(len(page.Entries))
				after = last.Seq
			}
			if count == 0 {
				fmt.Fprintln(s.out, "the audit log is empty")
				return nil
			}
			fmt.Fprintf(s.out, "audit log intact: %d entries, last %d at %s, head %x\n",
				count, prev.Seq, prev.Time.UTC().Format(time.RFC3339), prev.Hash[:8])
			return nil
		},
	}
}
