// Command arus is the Arus event-driven platform in one binary; run
// "arus help" for its commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/arus-platform/arus/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop) // a second signal during shutdown ends the process at once
	err := cli.Run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	code := cli.ExitCode(err)
	if code == 1 {
		fmt.Fprintln(os.Stderr, "arus:", err)
	}
	os.Exit(code)
}
