// Command pause is kubelab's pause container process (the registry.k8s.io/pause image): it holds a
// pod's namespaces open, blocks forever, reaps zombie children and exits 0 on SIGINT or SIGTERM.
//
// Build static: CGO_ENABLED=0 go build -trimpath ./cmd/pause
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const version = "kubelab-pause 1.0"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-v", "-version", "--version":
			fmt.Println(version)
			return
		case "-h", "-help", "--help":
			fmt.Printf("usage: %s [-v]  (blocks until SIGINT/SIGTERM, reaping zombie children)\n", os.Args[0])
			return
		default:
			fmt.Fprintf(os.Stderr, "usage: %s [-v]\n", os.Args[0])
			os.Exit(2)
		}
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: warning: not running as PID 1, zombies of other processes are not reaped")
	}

	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	reap() // children that exited before Notify was installed
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		os.Exit(0)
	}
}

// reap collects every exited child without blocking.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
