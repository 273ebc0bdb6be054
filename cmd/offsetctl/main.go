// Command offsetctl plans and applies Kafka Connect offset surgery and sink
// reconciliation. See README.md; the commands live in internal/command.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command"
	"github.com/offsetctl/offsetctl/internal/iostreams"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel() // first signal: stop gracefully
		<-sigs
		os.Exit(130) // second signal: stop now
	}()
	os.Exit(command.Main(ctx, os.Args[1:], iostreams.System()))
}
