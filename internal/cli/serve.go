package cli

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/weirhq/weir/internal/app"
	"github.com/weirhq/weir/internal/store/open"
)

// envOr returns the WEIR_* environment variable name's value, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func newServeCmd(s streams) *cobra.Command {
	var cfg app.Config
	var logLevel, logFormat string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Weir server (admin API, evaluation, metrics)",
		Long: `Run the Weir server on one listener: the admin API under /api/v1, /healthz,
/readyz and /metrics. Every flag can also be set with the WEIR_* environment
variable named in its help. The first admin token comes from WEIR_ADMIN_TOKEN;
without it, a token is generated on first start and printed once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.AdminToken = os.Getenv("WEIR_ADMIN_TOKEN")
			log, err := newLogger(s, logLevel, logFormat)
			if err != nil {
				return err
			}
			a, err := app.New(cmd.Context(), cfg, log, s.out)
			if err != nil {
				return envError{err}
			}
			if err := a.Listen(); err != nil {
				a.Close()
				return envError{err}
			}
			fmt.Fprintf(s.out, "Weir is serving on http://%s (database %s)\n", a.Addr(), describeDB(cfg.DB))
			if err := a.Serve(cmd.Context()); err != nil {
				return envError{err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", envOr("WEIR_ADDR", "127.0.0.1:8420"), "listen address (WEIR_ADDR)")
	f.StringVar(&cfg.DB, "db", envOr("WEIR_DB", "sqlite:weir.db"), "database: sqlite:PATH or postgres://… (WEIR_DB)")
	f.StringVar(&logLevel, "log-level", envOr("WEIR_LOG_LEVEL", "info"), "debug, info, warn or error (WEIR_LOG_LEVEL)")
	f.StringVar(&logFormat, "log-format", envOr("WEIR_LOG_FORMAT", "text"), "text or json (WEIR_LOG_FORMAT)")
	return cmd
}

// describeDB names the database without credentials.
func describeDB(dsn string) string { return open.Redact(dsn) }

func newLogger(s streams, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(s.err, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(s.err, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
