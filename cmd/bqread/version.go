package main

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// newVersionCmd is `bqread version`, which prints what `bqread --version` prints.
func newVersionCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the build info",
		Long: `version prints bqread's version (the module version go install stamps, (devel) for a build
in a checkout), the VCS revision and commit time it was built from and whether the checkout had
uncommitted changes, and the Go version and platform. bqread --version prints the same.`,
		Example: `  bqread version
  bqread --version`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprint(s.out, versionText())
			return err
		},
	}
}

// versionText is what `bqread version` and `bqread --version` print: the build info of this
// binary.
func versionText() string {
	bi, _ := debug.ReadBuildInfo() // nil without build info
	return formatVersion(bi, runtime.GOOS+"/"+runtime.GOARCH)
}

// formatVersion renders bi (nil when the binary has no build info) for the platform it runs on.
// Facts the build did not record are said to be unknown, with why.
func formatVersion(bi *debug.BuildInfo, platform string) string {
	version, module, goVersion := "(devel)", "github.com/bqread/bqread", runtime.Version()
	settings := map[string]string{}
	if bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.Main.Path != "" {
			module = bi.Main.Path
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	var b strings.Builder
	line := func(key, value string) { fmt.Fprintf(&b, "  %-9s %s\n", key, value) }
	fmt.Fprintf(&b, "bqread %s\n", version)
	line("module", module)
	if rev := settings["vcs.revision"]; rev != "" {
		line("revision", rev)
		line("time", cmp.Or(settings["vcs.time"], "unknown"))
		line("modified", cmp.Or(settings["vcs.modified"], "unknown"))
	} else {
		line("revision", "unknown (built outside a git checkout, or with -buildvcs=false)")
	}
	line("go", goVersion+" "+platform)
	return b.String()
}
