package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is the release, set at build time with
// -ldflags "-X github.com/arus-platform/arus/internal/cli.version=v1.2.3".
var version = "dev"

func runVersion(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "version", "arus version", "Prints the version of arus, the Go version it was built with and its source revision.")
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return f.fail("unexpected argument %q", rest[0])
	}
	v := releaseVersion()
	rev := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = ", " + s.Value[:12]
			}
		}
	}
	fmt.Fprintf(e.stdout, "arus %s (%s %s/%s%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH, rev)
	return nil
}

// releaseVersion is the version set at build time, or the module version
// the binary was built from, or "dev".
func releaseVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}
