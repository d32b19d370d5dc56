// Package export is bqread's export as a Go library: it plans a read session of a BigQuery table
// into a work dir (Plan), reads its streams in worker processes on this machine and merges their
// segments into one file (Export.Run, or Run for both), and reports a Summary; progress arrives as
// Events, and errors are ErrUsage, ErrPartial, ErrInterrupted, ErrSessionExpired or ErrIncomplete
// for errors.Is. The same export can be spread over a cluster scheduler's tasks: Plan once,
// RunWorker in each task (its index from the scheduler's environment), then Merge; ReadStatus says
// how far the workers got.
//
// Workers are processes. Run starts them by running this program again (Options.WorkerCommand
// changes that), so a program that calls Run calls RunWorkerIfChild first thing in main:
//
//	func main() {
//		export.RunWorkerIfChild()
//		...
//		sum, err := export.Run(ctx, export.Options{Table: "p.d.t", Out: "t.parquet"})
//	}
//
// The package speaks of Options fields, never of command-line flags; the bqread command maps its
// flags to Options and these errors to exit codes and hints.
package export
