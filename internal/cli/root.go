// Package cli implements the weir command line: every sub-command, its flags,
// its output formats and its exit codes. It is the only place that turns user
// input from the terminal into calls on the rest of Weir.
//
// Exit codes are part of the contract: 0 for success, 1 for a user error
// (bad input, invalid file, failed validation), 2 for a server, network or
// other environmental failure.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes returned by Run.
const (
	ExitOK        = 0
	ExitUserError = 1
	ExitEnvError  = 2
)

// Version is the version reported by `weir version`. Release builds set it
// with -ldflags "-X github.com/weirhq/weir/internal/cli.Version=…".
var Version = "dev"

// envError marks an error caused by the environment (server, network, disk)
// rather than by the user's input, so Run exits with ExitEnvError. Every other
// error is the user's and exits with ExitUserError.
type envError struct{ err error }

func (e envError) Error() string { return e.err.Error() }
func (e envError) Unwrap() error { return e.err }

// silentExit is returned by a command that already printed everything it had
// to say (for example every validation problem) and only needs an exit code.
type silentExit struct{ code int }

func (e silentExit) Error() string { return fmt.Sprintf("exit %d", e.code) }

// streams bundles the standard streams so commands never touch os.Std*.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// Run executes the weir command line with args and returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := streams{in: stdin, out: stdout, err: stderr}
	root := newRootCmd(s)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var se silentExit
	if errors.As(err, &se) {
		return se.code
	}
	fmt.Fprintln(stderr, "weir:", err)
	var ee envError
	if errors.As(err, &ee) {
		return ExitEnvError
	}
	return ExitUserError
}

func newRootCmd(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "weir",
		Short:         "Weir: feature flags, experiments and guarded rollouts",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(s),
		newValidateCmd(s),
		newEvalCmd(s),
		newServeCmd(s),
		newAnalyzeCmd(s),
		newSampleSizeCmd(s),
		newApplyCmd(s),
		newExportCmd(s),
		newFlagCmd(s),
		newHistoryCmd(s),
		newRollbackCmd(s),
		newKeysCmd(s),
		newAuditCmd(s),
		newEventsCmd(s),
		newExperimentCmd(s),
		newMetricCmd(s),
	)
	return root
}

func newVersionCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of weir",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(s.out, "weir", Version)
			return err
		},
	}
}
