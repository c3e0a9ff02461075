// Command load drives the CODITECT API at a fixed concurrency for a fixed time with a
// weighted mix of list projects, get task, create task and update task, each request
// for a random sampled tenant with that tenant's API key, and prints requests, errors,
// throughput and latency percentiles per endpoint. It reads the keys file that
// bench/cmd/seed writes and talks only to a loopback address, over keep-alive
// connections (at most -c of them).
//
//	go run ./bench/cmd/load -url http://127.0.0.1:8080 -keys bench-keys.json -c 64 -d 30s
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coditect/coditect/bench/internal/benchdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "load:", err)
		}
		os.Exit(1)
	}
}

// The endpoints the mix can call.
const (
	opList = iota
	opGet
	opCreate
	opUpdate
	numOps
)

var opNames = [numOps]string{"list_projects", "get_task", "create_task", "update_task"}
var opShort = map[string]int{"list": opList, "get": opGet, "create": opCreate, "update": opUpdate}

// expected is each endpoint's success status.
var expected = [numOps]int{http.StatusOK, http.StatusOK, http.StatusCreated, http.StatusOK}

type config struct {
	base     *url.URL
	keys     []benchdata.Key
	conc     int
	duration time.Duration
	warmup   time.Duration
	maxReqs  int64
	timeout  time.Duration
	weights  [numOps]int
	seed     uint64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rawURL := fs.String("url", "http://127.0.0.1:8080", "base URL of `coditect serve` (loopback only)")
	keysPath := fs.String("keys", "bench-keys.json", "keys file written by bench/cmd/seed")
	var c config
	fs.IntVar(&c.conc, "c", 64, "concurrent clients (each one request at a time, over at most c keep-alive connections)")
	fs.DurationVar(&c.duration, "d", 30*time.Second, "measured duration")
	fs.DurationVar(&c.warmup, "warmup", 5*time.Second, "unmeasured warm-up before the measured duration")
	fs.Int64Var(&c.maxReqs, "n", 0, "stop after this many measured requests (0: no limit)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "per-request timeout (a timeout counts as an error)")
	mix := fs.String("mix", "list=40,get=40,create=10,update=10", "weights of list (GET /projects), get (GET /tasks/{id}), create (POST /projects/{id}/tasks), update (PATCH /tasks/{id})")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed (tenants, tasks, operations)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.conc < 1 || c.duration <= 0 || c.warmup < 0 || c.maxReqs < 0 {
		return errors.New("want -c ≥ 1, -d > 0, -warmup ≥ 0, -n ≥ 0")
	}
	var err error
	if c.base, err = loopbackURL(*rawURL); err != nil {
		return err
	}
	if c.weights, err = parseMix(*mix); err != nil {
		return err
	}
	kf, err := benchdata.ReadKeys(*keysPath)
	if err != nil {
		return err
	}
	c.keys = kf.Keys
	for _, k := range c.keys {
		if len(k.ProjectIDs) == 0 || len(k.TaskIDs) == 0 {
			return fmt.Errorf("%s: tenant %d has no project or task ids", *keysPath, k.N)
		}
	}

	fmt.Fprintf(stdout, "load: %s, %d tenants with keys (of %d), -c %d, warm-up %s, measured %s, mix %s\n",
		c.base, len(c.keys), kf.Shape.Tenants, c.conc, c.warmup, c.duration, *mix)
	res, err := drive(ctx, c)
	if err != nil {
		return err
	}
	res.print(stdout)
	fmt.Fprintf(stdout, "load generator CPU: %.2f s in the measured %.1f s = %.2f cores\n",
		res.cpu.Seconds(), res.elapsed.Seconds(), res.cpu.Seconds()/res.elapsed.Seconds())
	return nil
}

// cpuTime is the CPU time (user + system) this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loopbackURL parses raw and refuses anything but http to a loopback address.
func loopbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" || u.Port() == "" {
		return nil, fmt.Errorf("-url: want http://127.0.0.1:PORT, got %q", raw)
	}
	ip := net.ParseIP(u.Hostname())
	if !(u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()) {
		return nil, fmt.Errorf("-url: only loopback addresses (127.0.0.1, ::1, localhost) may be load-tested, got %q", u.Hostname())
	}
	return u, nil
}

func parseMix(s string) ([numOps]int, error) {
	var w [numOps]int
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		op, known := opShort[name]
		n, err := strconv.Atoi(val)
		if !ok || !known || err != nil || n < 0 {
			return w, fmt.Errorf("-mix: want e.g. list=40,get=40,create=10,update=10, got %q", part)
		}
		w[op] = n
		total += n
	}
	if total == 0 {
		return w, errors.New("-mix: all weights are zero")
	}
	return w, nil
}

// histogram records latencies in microseconds in log-linear buckets: exact below
// 1024 µs, then 512 buckets per power of two (under 0.2 % error), constant memory.
type histogram struct {
	counts   []int64
	n        int64
	sum, max int64
}

const subBits = 10

func newHistogram() *histogram { return &histogram{counts: make([]int64, (64-subBits+2)<<(subBits-1))} }

func bucketOf(v int64) int {
	if v < 1<<subBits {
		return int(v)
	}
	shift := 64 - subBits - bits.LeadingZeros64(uint64(v)) // v>>shift is in [512, 1024)
	return shift<<(subBits-1) + int(v>>shift)
}

// valueOf is the upper bound of bucket i.
func valueOf(i int) int64 {
	if i < 1<<subBits {
		return int64(i)
	}
	shift := i>>(subBits-1) - 1
	base := int64(i - shift<<(subBits-1))
	return (base+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	v := max(d.Microseconds(), 0)
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the latency at q (0..1) in microseconds.
func (h *histogram) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen int64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(valueOf(i), h.max)
		}
	}
	return h.max
}

// stats is one worker's (and, merged, the run's) record.
type stats struct {
	lat      [numOps]*histogram
	errors   [numOps]int64
	byStatus map[string]int64  // "get_task 500" → count
	samples  map[string]string // first answer per kind of error
}

func newStats() *stats {
	s := &stats{byStatus: map[string]int64{}, samples: map[string]string{}}
	for i := range s.lat {
		s.lat[i] = newHistogram()
	}
	return s
}

func (s *stats) fail(op int, kind, sample string) {
	s.errors[op]++
	k := opNames[op] + " " + kind
	s.byStatus[k]++
	if _, ok := s.samples[k]; !ok {
		s.samples[k] = sample
	}
}

func (s *stats) merge(o *stats) {
	for i := range s.lat {
		s.lat[i].merge(o.lat[i])
		s.errors[i] += o.errors[i]
	}
	for k, v := range o.byStatus {
		s.byStatus[k] += v
		if _, ok := s.samples[k]; !ok {
			s.samples[k] = o.samples[k]
		}
	}
}

type result struct {
	*stats
	elapsed time.Duration
	cpu     time.Duration // the load generator's own CPU time while measuring
}

func drive(ctx context.Context, c config) (result, error) {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		// Only loopback, even if a name resolves elsewhere.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if ta, ok := conn.RemoteAddr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
				conn.Close()
				return nil, fmt.Errorf("refusing non-loopback address %s", conn.RemoteAddr())
			}
			return conn, nil
		},
		MaxIdleConns:        c.conc,
		MaxIdleConnsPerHost: c.conc,
		MaxConnsPerHost:     c.conc,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: c.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	var cum [numOps]int
	total := 0
	for i, w := range c.weights {
		total += w
		cum[i] = total
	}

	start := time.Now()
	measureFrom := start.Add(c.warmup)
	end := measureFrom.Add(c.duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var measured atomic.Int64
	var cpuAtStart atomic.Int64
	cpuAtStart.Store(int64(cpuTime()))
	warm := time.AfterFunc(c.warmup, func() { cpuAtStart.Store(int64(cpuTime())) })
	defer warm.Stop()
	all := make([]*stats, c.conc)
	var wg sync.WaitGroup
	for w := range c.conc {
		st := newStats()
		all[w] = st
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(c.seed, uint64(w)))
			seq := 0
			for ctx.Err() == nil {
				r := rng.IntN(total)
				op := 0
				for r >= cum[op] {
					op++
				}
				k := &c.keys[rng.IntN(len(c.keys))]
				req, err := newRequest(ctx, c.base, op, k, rng, w, seq)
				seq++
				if err != nil {
					st.fail(op, "request", err.Error())
					continue
				}
				t0 := time.Now()
				status, body, err := do(client, req, expected[op])
				lat := time.Since(t0)
				if t0.Before(measureFrom) {
					continue
				}
				if ctx.Err() != nil && err != nil {
					break // the run ended while this request was in flight
				}
				if c.maxReqs > 0 && measured.Add(1) > c.maxReqs {
					cancel()
					break
				}
				switch {
				case err != nil:
					st.fail(op, "transport", err.Error())
				case status != expected[op]:
					st.fail(op, strconv.Itoa(status), body)
				default:
					st.lat[op].record(lat)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(measureFrom)
	cpu := cpuTime() - time.Duration(cpuAtStart.Load())
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return result{}, err
	}
	sum := newStats()
	for _, st := range all {
		sum.merge(st)
	}
	return result{stats: sum, elapsed: elapsed, cpu: cpu}, nil
}

func newRequest(ctx context.Context, base *url.URL, op int, k *benchdata.Key, rng *rand.Rand, worker, seq int) (*http.Request, error) {
	org := base.String() + "/v1/orgs/" + k.TenantID.String()
	var method, target string
	var body []byte
	switch op {
	case opList:
		method, target = http.MethodGet, org+"/projects"
	case opGet:
		method, target = http.MethodGet, org+"/tasks/"+k.TaskIDs[rng.IntN(len(k.TaskIDs))].String()
	case opCreate:
		method, target = http.MethodPost, org+"/projects/"+k.ProjectIDs[rng.IntN(len(k.ProjectIDs))].String()+"/tasks"
		body = fmt.Appendf(nil, `{"title":"Load task %d-%d","description":"Created by bench/cmd/load."}`, worker, seq)
	case opUpdate:
		method, target = http.MethodPatch, org+"/tasks/"+k.TaskIDs[rng.IntN(len(k.TaskIDs))].String()
		body = fmt.Appendf(nil, `{"title":"Updated by load %d-%d-%d"}`, worker, seq, rng.Uint32())
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k.Key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// do sends req and reads the whole answer (so the connection is reused); for an
// unexpected status it returns the start of the body.
func do(client *http.Client, req *http.Request, want int) (int, string, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode == want {
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, "", err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, string(b), nil
}

func ms(us int64) string { return strconv.FormatFloat(float64(us)/1000, 'f', 2, 64) }

func (r result) print(w io.Writer) {
	secs := r.elapsed.Seconds()
	fmt.Fprintf(w, "\n%-14s %10s %8s %10s %9s %9s %9s %9s %9s\n", "endpoint", "requests", "errors", "req/s", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms")
	overall := newHistogram()
	var errs int64
	for op := range numOps {
		h := r.lat[op]
		overall.merge(h)
		errs += r.errors[op]
		if h.n == 0 && r.errors[op] == 0 {
			continue
		}
		row(w, opNames[op], h, r.errors[op], secs)
	}
	row(w, "all", overall, errs, secs)
	fmt.Fprintf(w, "measured %.1f s; req/s counts successful requests only\n", secs)
	if len(r.byStatus) > 0 {
		keys := make([]string, 0, len(r.byStatus))
		for k := range r.byStatus {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(w, "errors:")
		for _, k := range keys {
			fmt.Fprintf(w, "  %-28s %8d  first: %s\n", k, r.byStatus[k], strings.TrimSpace(r.samples[k]))
		}
	}
}

func row(w io.Writer, name string, h *histogram, errs int64, secs float64) {
	mean := int64(0)
	if h.n > 0 {
		mean = h.sum / h.n
	}
	fmt.Fprintf(w, "%-14s %10d %8d %10.1f %9s %9s %9s %9s %9s\n", name, h.n, errs, float64(h.n)/secs,
		ms(mean), ms(h.quantile(0.50)), ms(h.quantile(0.95)), ms(h.quantile(0.99)), ms(h.max))
}
