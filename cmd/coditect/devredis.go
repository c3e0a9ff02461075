package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// startDevRedis runs a private redis-server for `coditect dev` (no persistence, on a
// free 127.0.0.1 port, files in dir) so that the caches and the shared rate limiter
// run locally as in production. Without redis-server on the PATH it says how to get
// one and returns "": the platform then runs without Redis (caches off, rate limits in
// process). stop ends the server.
func startDevRedis(dir string, stdout io.Writer) (url string, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		fmt.Fprintln(stdout, "coditect dev: redis-server not found: running without Redis (no caches, rate limits per process);"+
			" install it (apt-get install redis-server) to run the caches locally")
		return "", func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("redis dir: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	_ = ln.Close()
	logf, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server goes with this process, even if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", nil, fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	stop = func() {
		fmt.Fprintln(stdout, "coditect dev: stopping Redis")
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			fmt.Fprintf(stdout, "coditect dev: Redis on %s (caches and rate limits)\n", addr)
			return "redis://" + addr + "/0", stop, nil
		}
		select {
		case <-done:
			return "", nil, fmt.Errorf("redis-server exited at start; see %s", filepath.Join(dir, "redis.log"))
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	return "", nil, fmt.Errorf("redis-server did not answer on %s; see %s", addr, filepath.Join(dir, "redis.log"))
}
