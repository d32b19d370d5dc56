package main

import "github.com/spf13/cobra"

// newCommands lists the subcommands, one file each.
func newCommands(s streams) []*cobra.Command {
	return []*cobra.Command{newExportCmd(s), newPlanCmd(s), newWorkerCmd(s), newMergeCmd(s), newStatusCmd(s), newServeCmd(s), newSchemaCmd(s), newVersionCmd(s)}
}
