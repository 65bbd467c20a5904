// Command propbench measures how fast a flag change reaches many streaming
// Go SDK clients, and how much memory the server spends per SDK stream.
//
// It starts a Weir server in process (composed as package app composes it,
// on a temporary SQLite database, 127.0.0.1 on an ephemeral port), applies 100 flags through the
// admin API and creates an SDK key of production. It then re-executes
// itself as a child process (-role clients) that connects N sdk.Clients,
// each with its own http.Client and transport and so its own connection,
// streaming over GET /sdk/v1/stream. With the clients in another process,
// this process's RSS and heap are the server's (plus a small harness).
//
// Once every client is READY, it flips flags (POST
// /api/v1/flags/{key}/environments/production/disable or enable, with a
// reason) M times, one every -interval. Each client's OnChange records the
// wall-clock time at which it applied each snapshot version; the child
// sends those times back as JSON lines. Propagation of a change to a client
// is measured from the arrival of the admin request's response (an upper
// bound of the commit: the server publishes before it answers, so a client
// can apply a change before the response arrives, which shows as a
// negative time) to the first snapshot the client applied whose version
// includes the change. Both processes read the same host's wall clock.
//
// Finally, fresh child processes (-role idle) measure the RSS of an idle
// server with 100 and with 10,000 flags, after runtime.GC and
// debug.FreeOSMemory. RSS is read from /proc (Linux only).
//
// From the repository root:
//
//	go run ./internal/server/propbench                          # 1,000 clients, 20 changes
//	go run ./internal/server/propbench -clients 200 -changes 5  # smaller
//	go run ./internal/server/propbench -raw                     # bare SSE readers: the server's fan-out alone
//	go run ./internal/server/propbench -clientcpuprofile c.out  # where the clients process spends its CPU
//	go run ./internal/server/propbench -role idle -flags 10000 -heapprofile h.out  # one idle server's heap
//
// It is a main package, so go test never runs it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/weirhq/weir/internal/auth"
	"github.com/weirhq/weir/internal/server"
	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/sqlite"
	"github.com/weirhq/weir/sdk"
)

// The child learns the server's address and the SDK key from its
// environment, so the key never appears on a command line.
const (
	envURL = "WEIR_PROPBENCH_URL"
	envKey = "WEIR_PROPBENCH_KEY"
)

func main() {
	role := flag.String("role", "bench", "bench, or (internal) clients or idle")
	clients := flag.Int("clients", 1000, "SDK clients to connect")
	changes := flag.Int("changes", 20, "flag changes to propagate")
	interval := flag.Duration("interval", 200*time.Millisecond, "time between changes")
	flags := flag.Int("flags", 100, "flags to load (-role idle)")
	raw := flag.Bool("raw", false, "bare SSE readers instead of sdk.Clients (server fan-out without the SDK's decoding)")
	clientProfile := flag.String("clientcpuprofile", "", "write a CPU profile of the clients process during the changes")
	heapProfile := flag.String("heapprofile", "", "write a heap profile of the idle server to this file (-role idle)")
	flag.Parse()
	log.SetFlags(0)
	var err error
	switch *role {
	case "bench":
		err = bench(*clients, *changes, *interval, *raw, *clientProfile)
	case "clients":
		err = runClients(*clients, *raw, *clientProfile)
	case "idle":
		err = idle(*flags, *heapProfile)
	default:
		err = fmt.Errorf("unknown role %q", *role)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// weir is a server running in this process, composed as internal/app
// composes it (the architecture test lets only cmd/ and the CLI import
// the composition root): a SQLite store, server.Server with a Prometheus
// registry, net/http with the same limits, streams ended on shutdown.
type weir struct {
	url   string
	admin string
	srv   *server.Server
	http  *http.Server
	st    store.Store
	hc    *http.Client
	dir   string
}

func startWeir() (*weir, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "propbench")
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "weir.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	fail := func(err error) (*weir, error) {
		st.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	admin, _, err := auth.NewSecret(store.ScopeAdmin)
	if err != nil {
		return fail(err)
	}
	if err := st.CreateKey(ctx, store.Key{ID: auth.NewID(), Name: "propbench", Scope: store.ScopeAdmin, Hash: auth.Hash(admin),
		CreatedBy: "propbench", CreatedAt: time.Now().UTC()}); err != nil {
		return fail(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := server.New(server.Options{Store: st, Logger: slog.New(slog.DiscardHandler), Registry: reg})
	if err != nil {
		return fail(err)
	}
	if err := srv.Reload(ctx); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	hs.RegisterOnShutdown(srv.StopStreams)
	go func() { _ = hs.Serve(ln) }()
	return &weir{url: "http://" + ln.Addr().String(), admin: admin, srv: srv, http: hs, st: st, dir: dir,
		hc: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{Proxy: nil}}}, nil
}

func (w *weir) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.http.Shutdown(ctx); err != nil {
		log.Print(err)
	}
	w.hc.CloseIdleConnections()
	w.st.Close()
	os.RemoveAll(w.dir)
}

// call sends an admin request and decodes the JSON answer.
func (w *weir) call(method, path, body string) (map[string]any, error) {
	req, err := http.NewRequest(method, w.url+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+w.admin)
	resp, err := w.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	var out map[string]any
	return out, json.Unmarshal(data, &out)
}

// setup applies n flags and creates an SDK key of production.
func (w *weir) setup(n int) (sdkKey string, err error) {
	if _, err := w.call("POST", "/api/v1/apply?reason=benchmark", flagsFile(n)); err != nil {
		return "", err
	}
	out, err := w.call("POST", "/api/v1/keys", `{"scope":"sdk","env":"production","name":"propbench"}`)
	if err != nil {
		return "", err
	}
	sdkKey, _ = out["secret"].(string)
	if sdkKey == "" {
		return "", errors.New("no secret in the key's answer")
	}
	return sdkKey, nil
}

// flagKey names flag i.
func flagKey(i int) string { return fmt.Sprintf("flag-%05d", i) }

// flagsFile returns n flags of every type, each with targets, two rules
// and a split, in two environments (ofrepbench's shape).
func flagsFile(n int) string {
	var b strings.Builder
	b.WriteString("environments:\n  - key: development\n  - key: production\nflags:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - key: %s\n", flagKey(i))
		switch i % 4 {
		case 0, 2:
			b.WriteString("    type: boolean\n    variants: {on: true, off: false}\n")
		case 1:
			b.WriteString("    type: string\n    variants: {on: \"green\", off: \"blue\"}\n")
		case 3:
			b.WriteString("    type: number\n    variants: {on: 10, off: 2.5}\n")
		}
		b.WriteString(`    environments:
      production:
        enabled: true
        offVariant: off
        targets: {on: [user-1, user-2, user-3]}
        rules:
          - id: beta
            when: [{attribute: email, op: endsWith, values: ["@example.com"]}]
            serve: {variant: on}
          - id: dutch-pros
            when:
              - {attribute: country, op: in, values: [NL, BE]}
              - {attribute: plan, op: in, values: [pro, enterprise]}
            serve: {variant: on}
        default: {split: {on: 20, off: 80}}
`)
	}
	return b.String()
}

// memory is one reading of a process's memory.
type memory struct {
	RSS       int64 `json:"rss"`       // VmRSS, bytes (-1 if unknown)
	HeapInuse int64 `json:"heapInuse"` // bytes
	Sys       int64 `json:"sys"`       // bytes obtained from the OS by the Go runtime
	Stacks    int64 `json:"stacks"`    // StackInuse, bytes
	Routines  int   `json:"goroutines"`
}

// settledMemory collects garbage, returns what it can to the OS and reads
// this process's memory.
func settledMemory() memory {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memory{RSS: rss(os.Getpid()), HeapInuse: int64(ms.HeapInuse), Sys: int64(ms.Sys),
		Stacks: int64(ms.StackInuse), Routines: runtime.NumGoroutine()}
}

// rss reads a process's VmRSS from /proc, or -1.
func rss(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" && f[2] == "kB" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

func mb(b int64) string {
	if b < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
}

func kb(b float64) string { return fmt.Sprintf("%.1f KB", b/(1<<10)) }

// idle runs a fresh server with n flags and prints its settled memory,
// after the apply and after one SDK snapshot was encoded, as one JSON line.
func idle(n int, heapProfile string) error {
	w, err := startWeir()
	if err != nil {
		return err
	}
	defer w.stop()
	key, err := w.setup(n)
	if err != nil {
		return err
	}
	w.hc.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	loaded := settledMemory()
	req, _ := http.NewRequest("GET", w.url+"/sdk/v1/snapshot", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := w.hc.Do(req)
	if err != nil {
		return err
	}
	size, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /sdk/v1/snapshot: %d", resp.StatusCode)
	}
	w.hc.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	served := settledMemory()
	if heapProfile != "" {
		pf, err := os.Create(heapProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.Lookup("heap").WriteTo(pf, 0); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"loaded": loaded, "served": served, "snapshotBytes": size})
}

type idleResult struct {
	Loaded        memory `json:"loaded"`
	Served        memory `json:"served"`
	SnapshotBytes int64  `json:"snapshotBytes"`
}

func runIdle(n int) (idleResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return idleResult{}, err
	}
	cmd := exec.Command(exe, "-role", "idle", "-flags", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return idleResult{}, fmt.Errorf("idle server with %d flags: %w", n, err)
	}
	var r idleResult
	return r, json.Unmarshal(out, &r)
}

// Messages from the clients process, one JSON object a line.
type message struct {
	// Ready: every client is READY (Connect is how long that took).
	Ready   int   `json:"ready,omitempty"`
	Connect int64 `json:"connectNs,omitempty"`
	// An apply: client C applied snapshot version V at wall time T (ns).
	C int   `json:"c"`
	V int64 `json:"v,omitempty"`
	T int64 `json:"t,omitempty"`
	// End: every apply was sent; Lost counts streams that dropped (status
	// changes away from READY); Behind counts clients that never reached
	// the last version; RSS is the clients process's.
	End    bool  `json:"end,omitempty"`
	Lost   int   `json:"lost,omitempty"`
	Behind int   `json:"behind,omitempty"`
	RSS    int64 `json:"rss,omitempty"`
}

type apply struct {
	v, t int64
}

// follower is one client of the clients process.
type follower struct {
	version func() int64
	close   func()
}

// runClients is the child: it connects n streaming clients (sdk.Clients,
// or with raw, bare SSE readers that decode nothing), reports when all are
// READY, and on "done V" waits until all serve version V or later, then
// sends every apply it recorded. It exits when its stdin closes.
func runClients(n int, raw bool, cpuProfile string) error {
	url, key := os.Getenv(envURL), os.Getenv(envKey)
	if url == "" || key == "" {
		return fmt.Errorf("-role clients needs %s and %s", envURL, envKey)
	}
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	send := func(m message) error {
		if err := enc.Encode(m); err != nil {
			return err
		}
		return out.Flush()
	}
	fs := make([]follower, n)
	applies := make([][]apply, n) // applies[i] is written only by client i's goroutine until it is closed
	var lostMu sync.Mutex
	lost := 0
	defer func() {
		for _, f := range fs {
			if f.close != nil {
				f.close()
			}
		}
	}()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range fs {
		tr := &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			MaxConnsPerHost:     2,
			MaxIdleConns:        2,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     time.Minute,
		}
		hc := &http.Client{Transport: tr}
		var ready func(context.Context) error
		if raw {
			f, wait, err := rawFollower(url, key, hc, &applies[i])
			if err != nil {
				return fmt.Errorf("client %d: %w", i, err)
			}
			fs[i], ready = f, wait
		} else {
			c, err := sdk.New(ctx, key, sdk.WithBaseURL(url), sdk.WithEnvironment("production"),
				sdk.WithHTTPClient(hc), sdk.WithBackoff(100*time.Millisecond, 2*time.Second),
				sdk.WithEvents(false)) // propagation only: no event senders, as in earlier figures
			if err != nil {
				return err
			}
			c.OnChange(func(ch sdk.Change) {
				switch {
				case ch.Kind == sdk.ChangeSnapshot:
					applies[i] = append(applies[i], apply{ch.Version, time.Now().UnixNano()})
				case ch.Kind == sdk.ChangeStatus && ch.Status != sdk.StatusReady:
					lostMu.Lock()
					lost++
					lostMu.Unlock()
				}
			})
			fs[i] = follower{version: func() int64 { v, _ := c.Version(); return v }, close: func() { _ = c.Close(context.Background()) }}
			ready = c.WaitReady
		}
		// Connect in small batches, so the listen backlog never overflows.
		if i%50 == 49 {
			if err := ready(ctx); err != nil {
				return fmt.Errorf("client %d: %w", i, err)
			}
		}
	}
	for i, f := range fs {
		for f.version() == 0 {
			if ctx.Err() != nil {
				return fmt.Errorf("client %d: not ready", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := send(message{Ready: n, Connect: int64(time.Since(start))}); err != nil {
		return err
	}
	if cpuProfile != "" {
		pf, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) != 2 || f[0] != "done" {
			continue
		}
		last, _ := strconv.ParseInt(f[1], 10, 64)
		deadline := time.Now().Add(30 * time.Second)
		behind := 0
		for {
			behind = 0
			for _, f := range fs {
				if f.version() < last {
					behind++
				}
			}
			if behind == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		// Closing the clients ends their goroutines, so their applies can
		// be read. All at once: a client busy decoding a backlog finishes
		// its snapshot first.
		var wg sync.WaitGroup
		for i := range fs {
			wg.Go(fs[i].close)
		}
		wg.Wait()
		for i := range fs {
			fs[i].close = nil
		}
		for i, as := range applies {
			for _, a := range as {
				if err := enc.Encode(message{C: i, V: a.v, T: a.t}); err != nil {
					return err
				}
			}
		}
		lostMu.Lock()
		l := lost
		lostMu.Unlock()
		return send(message{End: true, Lost: l, Behind: behind, RSS: rss(os.Getpid())})
	}
	return in.Err()
}

// rawFollower reads GET /sdk/v1/stream without decoding anything: it
// records the arrival of each snapshot event's last byte. It measures the
// server's fan-out and the network, without the SDK's decoding.
func rawFollower(url, key string, hc *http.Client, applies *[]apply) (follower, func(context.Context) error, error) {
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/sdk/v1/stream", nil)
	if err != nil {
		cancel()
		return follower{}, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "text/event-stream")
	var version atomic.Int64
	done := make(chan struct{})
	first := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := hc.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		r := bufio.NewReaderSize(resp.Body, 1<<20)
		var id int64
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			switch {
			case bytes.HasPrefix(line, []byte("id: ")):
				id, _ = strconv.ParseInt(string(bytes.TrimSpace(line[4:])), 10, 64)
			case bytes.HasPrefix(line, []byte("data: ")):
				*applies = append(*applies, apply{id, time.Now().UnixNano()})
				if version.Swap(id) == 0 {
					close(first)
				}
			}
		}
	}()
	f := follower{version: version.Load, close: func() { cancel(); <-done }}
	wait := func(ctx context.Context) error {
		select {
		case <-first:
			return nil
		case <-done:
			return errors.New("stream ended")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f, wait, nil
}

// change is one flag flip as the admin client saw it.
type change struct {
	flag, action string
	sent, resp   int64 // wall times, ns
	version      int64 // SDK snapshot version that includes it
}

func bench(n, m int, interval time.Duration, raw bool, clientProfile string) error {
	kind := "streaming SDK clients"
	if raw {
		kind = "bare SSE readers"
	}
	fmt.Printf("propbench: %d %s (child process), %d changes every %s, 100 flags; GOMAXPROCS=%d, %d CPUs, %s\n\n",
		n, kind, m, interval, runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.Version())
	w, err := startWeir()
	if err != nil {
		return err
	}
	defer w.stop()
	key, err := w.setup(100)
	if err != nil {
		return err
	}
	w.hc.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	idleMem := settledMemory()

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"-role", "clients", "-clients", strconv.Itoa(n), "-raw=" + strconv.FormatBool(raw)}
	if clientProfile != "" {
		args = append(args, "-clientcpuprofile", clientProfile)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), envURL+"="+w.url, envKey+"="+key)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	msgs := make(chan message, 1024)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var msg message
			if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
				readErr <- fmt.Errorf("clients process: %q: %w", sc.Text(), err)
				return
			}
			msgs <- msg
		}
		readErr <- fmt.Errorf("clients process ended early (%v)", sc.Err())
	}()
	next := func(timeout time.Duration) (message, error) {
		select {
		case msg := <-msgs:
			return msg, nil
		case err := <-readErr:
			return message{}, err
		case <-time.After(timeout):
			return message{}, errors.New("timed out waiting for the clients process")
		}
	}
	ready, err := next(2 * time.Minute)
	if err != nil {
		return err
	}
	if ready.Ready != n {
		return fmt.Errorf("unexpected first message %+v", ready)
	}
	streams, err := w.gauge("weir_sse_connections")
	if err != nil {
		return err
	}
	if int(streams) != n {
		return fmt.Errorf("the server counts %v streams, not %d", streams, n)
	}
	w.hc.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	streamMem := settledMemory()
	clientsRSS := rss(cmd.Process.Pid)

	changes := make([]change, m)
	tick := time.NewTicker(interval)
	for k := range changes {
		<-tick.C
		c := &changes[k]
		i := k % 100
		c.flag, c.action = flagKey(i), "disable"
		if (k/100)%2 == 1 {
			c.action = "enable"
		}
		req, _ := http.NewRequest("POST", w.url+"/api/v1/flags/"+c.flag+"/environments/production/"+c.action,
			strings.NewReader(`{"reason":"propbench change `+strconv.Itoa(k)+`"}`))
		req.Header.Set("Authorization", "Bearer "+w.admin)
		c.sent = time.Now().UnixNano()
		resp, err := w.hc.Do(req)
		c.resp = time.Now().UnixNano()
		if err != nil {
			tick.Stop()
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			tick.Stop()
			return fmt.Errorf("%s %s: %d", c.action, c.flag, resp.StatusCode)
		}
		// The only writer is this loop, so the published audit sequence
		// is this change's snapshot version.
		c.version = w.srv.AuditSeq()
		if k > 0 && c.version <= changes[k-1].version {
			tick.Stop()
			return fmt.Errorf("change %d did not advance the snapshot version (%d)", k, c.version)
		}
	}
	tick.Stop()
	time.Sleep(100 * time.Millisecond)
	afterMem := settledMemory()
	if _, err := fmt.Fprintf(stdin, "done %d\n", changes[m-1].version); err != nil {
		return err
	}
	applies := make([][]apply, n)
	var end message
	for !end.End {
		msg, err := next(2 * time.Minute)
		if err != nil {
			return err
		}
		if msg.End {
			end = msg
		} else if msg.C >= 0 && msg.C < n {
			applies[msg.C] = append(applies[msg.C], apply{msg.V, msg.T})
		}
	}

	// For each change and client: the first apply of a version that
	// includes the change (a slow client may skip versions: the server
	// coalesces).
	var all, allSent []float64 // ms
	fmt.Printf("| change | flag | action | request (sent → response) | p50 after response | last client after response | last client after send | clients |\n")
	fmt.Printf("|---:|---|---|---:|---:|---:|---:|---:|\n")
	lasts := make([]float64, 0, m)
	for k, c := range changes {
		var lat []float64
		last, lastSent := math.Inf(-1), math.Inf(-1)
		for _, as := range applies {
			for _, a := range as {
				if a.v >= c.version {
					d := float64(a.t-c.resp) / 1e6
					ds := float64(a.t-c.sent) / 1e6
					lat = append(lat, d)
					all, allSent = append(all, d), append(allSent, ds)
					last, lastSent = max(last, d), max(lastSent, ds)
					break
				}
			}
		}
		sort.Float64s(lat)
		lasts = append(lasts, last)
		fmt.Printf("| %d | %s | %s | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %d |\n", k+1, c.flag, c.action,
			float64(c.resp-c.sent)/1e6, pct(lat, 0.50), last, lastSent, len(lat))
	}
	sort.Float64s(all)
	sort.Float64s(allSent)
	sort.Float64s(lasts)
	fmt.Printf("\nPropagation over all %d (client, change) pairs, from the response's arrival (from the request's sending):\n\n", len(all))
	fmt.Printf("| | p50 | p99 | max |\n|---|---:|---:|---:|\n")
	fmt.Printf("| after response | %.2f ms | %.2f ms | %.2f ms |\n", pct(all, 0.50), pct(all, 0.99), pct(all, 1))
	fmt.Printf("| after send | %.2f ms | %.2f ms | %.2f ms |\n", pct(allSent, 0.50), pct(allSent, 0.99), pct(allSent, 1))
	fmt.Printf("| last client of a change, after response | %.2f ms | %.2f ms | %.2f ms |\n", pct(lasts, 0.50), pct(lasts, 0.99), pct(lasts, 1))
	fmt.Printf("\nstreams dropped: %d; clients behind the last version: %d; pairs expected %d, measured %d\n",
		end.Lost, end.Behind, n*m, len(all))

	stdin.Close()
	idle100, err := runIdle(100)
	if err != nil {
		return err
	}
	idle10k, err := runIdle(10000)
	if err != nil {
		return err
	}
	per := func(a, b int64) string { return kb(float64(b-a) / float64(n)) }
	fmt.Printf("\nServer memory (this process; runtime.GC + debug.FreeOSMemory before each reading):\n\n")
	fmt.Printf("| | RSS | heap in use | stacks | Go runtime Sys | goroutines |\n|---|---:|---:|---:|---:|---:|\n")
	row := func(name string, m memory) {
		fmt.Printf("| %s | %s | %s | %s | %s | %d |\n", name, mb(m.RSS), mb(m.HeapInuse), mb(m.Stacks), mb(m.Sys), m.Routines)
	}
	row("idle, 100 flags", idleMem)
	row(fmt.Sprintf("%d streams connected", n), streamMem)
	row(fmt.Sprintf("%d streams, after %d changes", n, m), afterMem)
	fmt.Printf("| per stream (connected − idle) / %d | %s | %s | %s | %s | %.1f |\n", n,
		per(idleMem.RSS, streamMem.RSS), per(idleMem.HeapInuse, streamMem.HeapInuse), per(idleMem.Stacks, streamMem.Stacks),
		per(idleMem.Sys, streamMem.Sys), float64(streamMem.Routines-idleMem.Routines)/float64(n))
	fmt.Printf("| per stream (after changes − idle) / %d | %s | %s | %s | %s | |\n", n,
		per(idleMem.RSS, afterMem.RSS), per(idleMem.HeapInuse, afterMem.HeapInuse), per(idleMem.Stacks, afterMem.Stacks),
		per(idleMem.Sys, afterMem.Sys))
	fmt.Printf("\nFresh idle servers (separate processes), after the apply / after encoding one SDK snapshot:\n\n")
	fmt.Printf("| flags | RSS loaded | RSS served | heap in use served | SDK snapshot |\n|---:|---:|---:|---:|---:|\n")
	for _, r := range []struct {
		n int
		r idleResult
	}{{100, idle100}, {10000, idle10k}} {
		fmt.Printf("| %d | %s | %s | %s | %s |\n", r.n, mb(r.r.Loaded.RSS), mb(r.r.Served.RSS), mb(r.r.Served.HeapInuse), kb(float64(r.r.SnapshotBytes)))
	}
	fmt.Printf("\nclients process RSS with %d clients: %s (%s per client); all connected in %s\n",
		n, mb(clientsRSS), kb(float64(clientsRSS)/float64(n)), time.Duration(ready.Connect).Round(time.Millisecond))
	return nil
}

// pct returns the p-quantile of sorted xs (nearest rank).
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p*float64(len(xs)))) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// gauge reads a gauge from GET /metrics.
func (w *weir) gauge(name string) (float64, error) {
	resp, err := w.hc.Get(w.url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}
