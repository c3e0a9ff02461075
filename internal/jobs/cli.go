package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Usage is the help text of `coditect jobs`.
const Usage = `Usage:
  coditect jobs list [--state S] [--kind K] [--limit N] [--json]   jobs, newest first (failed ones with their last error)
  coditect jobs retry ID                                           run a job again now (discarded, cancelled, retryable, …)
  coditect jobs cancel ID                                          cancel a waiting or running job
States: available, scheduled, running, retryable, completed, cancelled, discarded, pending.
`

// Command runs `coditect jobs <args>` against a: list prints a table (or JSON lines with
// --json), retry and cancel print the job as it is afterwards.
func Command(ctx context.Context, a *Admin, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, Usage)
		return errors.New("jobs: missing subcommand (list, retry or cancel)")
	}
	switch args[0] {
	case "list":
		fs := flag.NewFlagSet("coditect jobs list", flag.ContinueOnError)
		fs.SetOutput(stderr)
		var f Filter
		fs.StringVar(&f.State, "state", "", "only jobs in this state (e.g. discarded)")
		fs.StringVar(&f.Kind, "kind", "", "only jobs of this kind (e.g. mail.send)")
		fs.IntVar(&f.Limit, "limit", DefaultLimit, fmt.Sprintf("at most this many jobs (max %d)", MaxLimit))
		asJSON := fs.Bool("json", false, "print one JSON object per line")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("jobs list: unexpected argument %q", fs.Arg(0))
		}
		list, err := a.List(ctx, f)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, list)
		}
		return writeTable(stdout, list)
	case "retry", "cancel":
		if len(args) != 2 {
			fmt.Fprint(stderr, Usage)
			return fmt.Errorf("jobs %s: want exactly one job id", args[0])
		}
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("jobs %s: %q is not a job id", args[0], args[1])
		}
		var j JobInfo
		if args[0] == "retry" {
			j, err = a.Retry(ctx, id)
		} else {
			j, err = a.Cancel(ctx, id)
		}
		if err != nil {
			return err
		}
		return writeTable(stdout, []JobInfo{j})
	}
	fmt.Fprint(stderr, Usage)
	return fmt.Errorf("jobs: unknown subcommand %q", args[0])
}

func writeJSON(w io.Writer, list []JobInfo) error {
	enc := json.NewEncoder(w)
	for _, j := range list {
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	return nil
}

func writeTable(w io.Writer, list []JobInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tATTEMPT\tTENANT\tCREATED\tSCHEDULED\tFINALIZED\tLAST ERROR")
	for _, j := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Kind, j.State, j.Attempt, j.MaxAttempts,
			dash(j.TenantID), stamp(&j.CreatedAt), stamp(&j.ScheduledAt), stamp(j.FinalizedAt), dash(oneLine(j.LastError, 120)))
	}
	return tw.Flush()
}

func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps an error message on one table row.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}
