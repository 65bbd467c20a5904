package cli

import (
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newKeysCmd(s streams) *cobra.Command {
	var r remote
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list and revoke SDK keys and admin tokens",
		Args:  cobra.NoArgs,
	}
	addRemoteFlags(cmd, &r)
	cmd.AddCommand(newKeysCreateCmd(s, &r), newKeysListCmd(s, &r), newKeysRevokeCmd(s, &r))
	return cmd
}

// keyInfo is a key as the server describes it; Secret is set only in the
// response that creates it.
type keyInfo struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scope     string     `json:"scope"`
	Env       string     `json:"env"`
	Prefix    string     `json:"prefix"`
	CreatedBy string     `json:"createdBy"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt"`
	Secret    string     `json:"secret"`
}

func newKeysCreateCmd(s streams, r *remote) *cobra.Command {
	var env, scope, name, output string
	cmd := &cobra.Command{
		Use:   "create --scope sdk|admin [--env ENV] [--name NAME]",
		Short: "Create an SDK key (bound to one environment) or an admin token",
		Long: `Create makes a new key and prints its secret on stdout, alone on its line, so
it can be captured by a script; what the key is and a warning go to stderr.
The server stores only a hash: the secret is shown this once and never again.
An SDK key is bound to one environment (--env); an admin token to none.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			var k keyInfo
			raw, err := c.sendJSON(cmd.Context(), http.MethodPost, "/api/v1/keys",
				map[string]string{"scope": scope, "env": env, "name": name}, &k)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeRaw(s.out, raw)
			}
			where := ""
			if k.Env != "" {
				where = " for " + k.Env
			}
			fmt.Fprintf(s.err, "Created %s key %s (%s)%s. Its secret is below: store it now, it will not be shown again.\n",
				k.Scope, k.ID, k.Name, where)
			if _, err := fmt.Fprintln(s.out, k.Secret); err != nil {
				return envError{fmt.Errorf("write output: %w", err)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scope, "scope", "", "sdk or admin")
	f.StringVar(&env, "env", "", "environment of an SDK key")
	f.StringVar(&name, "name", "", "a name to recognise the key by (default: its id)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json (includes the secret)")
	_ = cmd.MarkFlagRequired("scope")
	return cmd
}

func newKeysListCmd(s streams, r *remote) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), request{method: http.MethodGet, path: "/api/v1/keys"})
			if err != nil {
				return err
			}
			if output == "json" {
				return writeRaw(s.out, raw)
			}
			var list struct {
				Keys []keyInfo `json:"keys"`
			}
			if err := decodeResponse(raw, &list); err != nil {
				return err
			}
			if err := writeKeyTable(s.out, list.Keys); err != nil {
				return envError{fmt.Errorf("write output: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func writeKeyTable(w io.Writer, keys []keyInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tENV\tPREFIX\tCREATED\tREVOKED")
	for _, k := range keys {
		env, revoked := k.Env, "-"
		if env == "" {
			env = "-"
		}
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Scope, env, k.Prefix,
			k.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

func newKeysRevokeCmd(s streams, r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key; requests with it fail from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			if _, err := c.do(cmd.Context(), request{method: http.MethodDelete, path: pathf("/api/v1/keys/%s", args[0])}); err != nil {
				return err
			}
			if _, err := fmt.Fprintf(s.out, "revoked key %s\n", args[0]); err != nil {
				return envError{fmt.Errorf("write output: %w", err)}
			}
			return nil
		},
	}
}
