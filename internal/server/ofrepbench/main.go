// Command ofrepbench measures Weir's OFREP endpoint against a bare net/http
// handler that returns a fixed OFREP body, with wrk, in one run.
//
// It starts (a) a Weir server on a temporary SQLite database with 100
// flags and an SDK key of production, and (b) the bare handler, both on
// 127.0.0.1 ephemeral ports; then runs, one after the other,
//
//	WEIR_OFREP_KEY=<key> wrk -t2 -c64 -d10s --latency -s post.lua <url>/ofrep/v1/evaluate/flags/flag-042
//
// against each, alternating, three times by default, and prints every run
// and the medians' ratios. From the repository root:
//
//	go run ./internal/server/ofrepbench                 # wrk must be on PATH
//	go run ./internal/server/ofrepbench -d 30s -c 128   # other wrk settings
//	go run ./internal/server/ofrepbench -cpuprofile cpu.out && go tool pprof -top cpu.out
//	go run ./internal/server/ofrepbench -serve          # print the URLs and key, run wrk yourself
//	taskset -c 0 go run ./internal/server/ofrepbench -wrkcpus 1   # servers and wrk on separate CPUs
//
// It is a main package, so go test never runs it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/weirhq/weir/internal/auth"
	"github.com/weirhq/weir/internal/server"
	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/sqlite"
)

const flagPath = "/ofrep/v1/evaluate/flags/flag-042"

// bareBody is what Weir answers for flag-042 and post.lua's context, so
// both servers send the same bytes.
const bareBody = `{"key":"flag-042","value":true,"variant":"on","reason":"TARGETING_MATCH","metadata":{"flagVersion":1,"ruleId":"dutch-pros"}}`

func main() {
	threads := flag.Int("t", 2, "wrk threads")
	conns := flag.Int("c", 64, "wrk connections")
	dur := flag.String("d", "10s", "wrk duration")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the Weir run to this file")
	runs := flag.Int("runs", 3, "alternating runs of each server")
	pin := flag.String("wrkcpus", "", "run wrk under taskset -c with this CPU list (pin the servers elsewhere: taskset -c 0 go run …)")
	serve := flag.Bool("serve", false, "only start both servers and print their URLs and the key")
	flag.Parse()
	log.SetFlags(0)

	dir, err := os.MkdirTemp("", "ofrepbench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	weirURL, key, stop, err := startWeir(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	bareURL, stopBare, err := startBare()
	if err != nil {
		log.Fatal(err)
	}
	defer stopBare()

	if *serve {
		fmt.Printf("weir %s%s\nbare %s%s\nWEIR_OFREP_KEY=%s\n", weirURL, flagPath, bareURL, flagPath, key)
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt)
		<-ch
		return
	}
	script, err := filepath.Abs(filepath.Join("internal", "server", "ofrepbench", "post.lua"))
	if err == nil {
		_, err = os.Stat(script)
	}
	if err != nil {
		script = "post.lua" // run from this directory
	}
	args := []string{"-t" + strconv.Itoa(*threads), "-c" + strconv.Itoa(*conns), "-d" + *dur, "--latency", "-s", script}
	fmt.Printf("GOMAXPROCS=%d, %s\n", runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Printf("WEIR_OFREP_KEY=… wrk %s <url>%s\n\n", strings.Join(args, " "), flagPath)

	// Runs alternate, bare then Weir, so that both see the same machine
	// weather; the summary takes each server's median run.
	var bares, weirs []wrkResult
	for range *runs {
		bare, err := runWrk(*pin, args, bareURL+flagPath, key)
		if err != nil {
			log.Fatal(err)
		}
		bares = append(bares, bare)
		if *cpuProfile != "" && len(weirs) == 0 {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				log.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				log.Fatal(err)
			}
		}
		weir, err := runWrk(*pin, args, weirURL+flagPath, key)
		if *cpuProfile != "" && len(weirs) == 0 {
			pprof.StopCPUProfile()
		}
		if err != nil {
			log.Fatal(err)
		}
		weirs = append(weirs, weir)
	}
	fmt.Printf("%-6s %4s %12s %10s %10s %8s\n", "server", "run", "requests/s", "p50", "p99", "non-2xx")
	for i := range bares {
		for _, r := range []struct {
			name string
			res  wrkResult
		}{{"bare", bares[i]}, {"weir", weirs[i]}} {
			fmt.Printf("%-6s %4d %12.0f %10s %10s %8d\n", r.name, i+1, r.res.rps, r.res.p50, r.res.p99, r.res.non2xx)
		}
	}
	bare, weir := median(bares), median(weirs)
	fmt.Printf("\nmedian of %d runs: bare %.0f req/s p50 %s p99 %s; weir %.0f req/s p50 %s p99 %s\n",
		*runs, bare.rps, bare.p50, bare.p99, weir.rps, weir.p50, weir.p99)
	fmt.Printf("weir/bare: requests/s %.1f%% (target ≥ 75%%), p99 %.2f× (target ≤ 1.2×)\n",
		100*weir.rps/bare.rps, float64(weir.p99)/float64(bare.p99))
}

// median returns the median requests/s, p50 and p99, each taken on its own.
func median(rs []wrkResult) wrkResult {
	mid := func(xs []float64) float64 {
		sort.Float64s(xs)
		return xs[len(xs)/2]
	}
	var rps, p50, p99 []float64
	for _, r := range rs {
		rps, p50, p99 = append(rps, r.rps), append(p50, float64(r.p50)), append(p99, float64(r.p99))
	}
	return wrkResult{rps: mid(rps), p50: time.Duration(mid(p50)), p99: time.Duration(mid(p99))}
}

// startWeir opens a fresh SQLite store, applies 100 flags through the
// admin API and creates an SDK key, as an operator would.
func startWeir(dir string) (url, sdkKey string, stop func(), err error) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "weir.db"))
	if err != nil {
		return "", "", nil, err
	}
	admin, _, err := auth.NewSecret(store.ScopeAdmin)
	if err != nil {
		return "", "", nil, err
	}
	if err := st.CreateKey(ctx, store.Key{ID: auth.NewID(), Name: "bench", Scope: store.ScopeAdmin, Hash: auth.Hash(admin),
		CreatedBy: "ofrepbench", CreatedAt: time.Now().UTC()}); err != nil {
		return "", "", nil, err
	}
	// The limiter stays on (its cost is part of the figure) but high
	// enough never to refuse.
	srv, err := server.New(server.Options{Store: st, OFREPRateLimit: server.RateLimit{PerSecond: 1e9, Burst: 1e9}})
	if err != nil {
		return "", "", nil, err
	}
	if err := srv.Reload(ctx); err != nil {
		return "", "", nil, err
	}
	url, stopHTTP, err := listen(srv.Handler())
	if err != nil {
		return "", "", nil, err
	}
	stop = func() { stopHTTP(); st.Close() }
	call := func(method, path, body string) (map[string]any, error) {
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
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
	if _, err := call("POST", "/api/v1/apply?reason=benchmark", flagsFile(100)); err != nil {
		stop()
		return "", "", nil, err
	}
	out, err := call("POST", "/api/v1/keys", `{"scope":"sdk","env":"production","name":"bench"}`)
	if err != nil {
		stop()
		return "", "", nil, err
	}
	sdkKey, _ = out["secret"].(string)
	// Check the answer is the one the bare handler imitates.
	req, _ := http.NewRequest("POST", url+flagPath, strings.NewReader(`{"context":{"targetingKey":"user-12345","country":"NL","plan":"pro","appVersion":"2.3.1"}}`))
	req.Header.Set("X-API-Key", sdkKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		stop()
		return "", "", nil, err
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != bareBody {
		stop()
		return "", "", nil, fmt.Errorf("weir answers %d %s, the bare handler %s", resp.StatusCode, got, bareBody)
	}
	return url, sdkKey, stop, nil
}

// flagsFile returns n flags of every type, each with targets, a rule and
// a split, in two environments.
func flagsFile(n int) string {
	var b strings.Builder
	b.WriteString("environments:\n  - key: development\n  - key: production\nflags:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - key: flag-%03d\n", i)
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

func startBare() (string, func(), error) {
	body := []byte(bareBody)
	return listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
}

func listen(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

type wrkResult struct {
	rps      float64
	p50, p99 time.Duration
	non2xx   int
}

func runWrk(cpus string, args []string, url, key string) (wrkResult, error) {
	cmd := exec.Command("wrk", append(args, url)...)
	if cpus != "" {
		cmd = exec.Command("taskset", append([]string{"-c", cpus, "wrk"}, append(args, url)...)...)
	}
	cmd.Env = append(os.Environ(), "WEIR_OFREP_KEY="+key)
	out, err := cmd.CombinedOutput()
	fmt.Printf("$ wrk %s %s\n%s\n", strings.Join(args, " "), url, out)
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w", err)
	}
	var r wrkResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 2 && fields[0] == "Requests/sec:":
			r.rps, _ = strconv.ParseFloat(fields[1], 64)
		case len(fields) == 2 && fields[0] == "50%":
			r.p50 = parseWrkDuration(fields[1])
		case len(fields) == 2 && fields[0] == "99%":
			r.p99 = parseWrkDuration(fields[1])
		case len(fields) >= 5 && fields[0] == "Non-2xx":
			r.non2xx, _ = strconv.Atoi(fields[len(fields)-1])
		}
	}
	if r.rps == 0 {
		return r, fmt.Errorf("no Requests/sec in wrk's output")
	}
	return r, nil
}

// parseWrkDuration reads wrk's "812.00us", "1.20ms", "2.01s".
func parseWrkDuration(s string) time.Duration {
	s = strings.Replace(s, "us", "µs", 1)
	d, _ := time.ParseDuration(s)
	return d
}
