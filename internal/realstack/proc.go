package realstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// jvm holds what every Java process of the stack shares.
type jvm struct {
	java  string // launcher
	lib   string // <cache>/lib, the class path folder
	log4j string // log4j2.properties
}

// args returns the JVM options and class path for a main class. The options
// favour a quick start on a small machine over peak throughput.
func (j jvm) args(heapMiB int, mainClass string, rest ...string) []string {
	a := []string{
		j.java,
		fmt.Sprintf("-Xmx%dm", heapMiB),
		"-Xms64m",
		"-Xss512k",
		"-XX:+UseSerialGC",
		"-XX:TieredStopAtLevel=1",
		"-XX:-UsePerfData",
		"-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile=" + j.log4j,
		"-Dlog4j2.disable.jmx=true",
		"-cp", filepath.Join(j.lib, "*"),
		mainClass,
	}
	return append(a, rest...)
}

// proc is one started process whose output goes to a log file.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// startProc starts name's command in a process group of its own, with its
// standard output and error appended to logPath. The process gets SIGKILL if
// the test binary dies first.
func startProc(name, logPath, dir string, argv []string, env []string) (*proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating the %s log: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, with its wait error.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		if p.waitErr == nil {
			return true, errors.New("exited with status 0")
		}
		return true, p.waitErr
	default:
		return false, nil
	}
}

// kill ends the whole process group: SIGTERM, then SIGKILL after grace.
// Nothing of the stack needs a clean shutdown (all of it is thrown away), so
// callers pass a short grace.
func (p *proc) kill(grace time.Duration) {
	if p == nil || p.cmd.Process == nil {
		return
	}
	pgid := p.cmd.Process.Pid
	select {
	case <-p.done:
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // stray children, if any
		return
	default:
	}
	if grace > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(grace):
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

// runOnce runs a short-lived command to completion with output to logPath.
func runOnce(ctx context.Context, name, logPath, dir string, argv, env []string) error {
	p, err := startProc(name, logPath, dir, argv, env)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.kill(0)
		return fmt.Errorf("%s: %w", name, ctx.Err())
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s failed: %w (log: %s)", name, p.waitErr, logPath)
	}
	return nil
}
