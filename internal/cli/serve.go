package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

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
	var logLevel, logFormat, pepperFile string
	// Numeric defaults come from WEIR_* variables; a bad value is reported
	// with every other problem when the command runs.
	var envErrs []error
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Weir server (admin API, evaluation, metrics)",
		Long: `Run the Weir server on one listener: the admin API under /api/v1, OFREP
under /ofrep/v1, SDK sync under /sdk/v1, the event intake under /events/v1,
/healthz, /readyz and /metrics. Every flag can also be set with the WEIR_*
environment variable named in its help. The first admin token comes from
WEIR_ADMIN_TOKEN; without it, a token is generated on first start and printed
once. Secrets are never taken from flags: the unit token pepper comes from
WEIR_UNIT_TOKEN_PEPPER or a file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(envErrs...); err != nil {
				return err
			}
			cfg.AdminToken = os.Getenv("WEIR_ADMIN_TOKEN")
			pepper, err := readPepper(pepperFile)
			if err != nil {
				return err
			}
			cfg.UnitTokenPepper = pepper
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
	f.IntVar(&cfg.EventQueue, "event-queue", envInt(&envErrs, "WEIR_EVENT_QUEUE", 100_000),
		"events the intake may hold before answering 429 (WEIR_EVENT_QUEUE)")
	f.Float64Var(&cfg.EventsPerSecond, "event-rate", envFloat(&envErrs, "WEIR_EVENT_RATE", 100_000),
		"events a second each SDK key may send, burst twice that; negative: no limit (WEIR_EVENT_RATE)")
	f.DurationVar(&cfg.RetentionInterval, "retention-interval", envDuration(&envErrs, "WEIR_RETENTION_INTERVAL", time.Hour),
		"how often events past their environment's retention are deleted (WEIR_RETENTION_INTERVAL)")
	f.StringVar(&pepperFile, "unit-token-pepper-file", envOr("WEIR_UNIT_TOKEN_PEPPER_FILE", ""),
		"file holding a secret mixed into unit tokens (WEIR_UNIT_TOKEN_PEPPER_FILE; or the secret itself in WEIR_UNIT_TOKEN_PEPPER); see docs/privacy.md")
	return cmd
}

// readPepper returns the unit token pepper: the content of file (without
// a final newline) or WEIR_UNIT_TOKEN_PEPPER. The secret is never taken
// from a flag, which process lists would show.
func readPepper(file string) (string, error) {
	env := os.Getenv("WEIR_UNIT_TOKEN_PEPPER")
	if file == "" {
		return env, nil
	}
	if env != "" {
		return "", errors.New("set the unit token pepper in WEIR_UNIT_TOKEN_PEPPER or a file (--unit-token-pepper-file), not both")
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--unit-token-pepper-file: %w", err)
	}
	return strings.TrimRight(string(raw), "\r\n"), nil
}

// envInt, envFloat and envDuration return a WEIR_* variable's value as a
// flag default, or def; a value that does not parse is recorded in errs.
func envInt(errs *[]error, name string, def int) int {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: want a whole number", name, v))
		return def
	}
	return n
}

func envFloat(errs *[]error, name string, def float64) float64 {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: want a number", name, v))
		return def
	}
	return f
}

func envDuration(errs *[]error, name string, def time.Duration) time.Duration {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: want a duration such as 1h or 30m", name, v))
		return def
	}
	return d
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
