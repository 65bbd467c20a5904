package sdk

import (
	"log/slog"
	"net/http"
	"time"
)

// Option configures a Client.
type Option func(*options)

type options struct {
	baseURL        string
	httpClient     *http.Client
	bootstrap      []byte
	bootstrapFile  string
	cacheDir       string
	environment    string
	offline        bool
	polling        bool
	pollInterval   time.Duration
	logger         *slog.Logger
	initTimeout    time.Duration
	backoffMin     time.Duration
	backoffMax     time.Duration
	pollAfter      int
	streamTimeout  time.Duration
	requestTimeout time.Duration
}

// Defaults.
const (
	DefaultBaseURL      = "http://localhost:8420"
	DefaultPollInterval = 30 * time.Second
	// DefaultStreamTimeout is how long a stream may stay silent before the
	// client reconnects; the server sends a heartbeat every 15 seconds.
	DefaultStreamTimeout = 60 * time.Second
)

func defaultOptions() options {
	return options{
		baseURL:        DefaultBaseURL,
		httpClient:     http.DefaultClient,
		pollInterval:   DefaultPollInterval,
		logger:         slog.New(slog.DiscardHandler),
		backoffMin:     time.Second,
		backoffMax:     30 * time.Second,
		pollAfter:      3,
		streamTimeout:  DefaultStreamTimeout,
		requestTimeout: 30 * time.Second,
	}
}

// WithBaseURL sets the Weir server's address (default DefaultBaseURL).
func WithBaseURL(url string) Option { return func(o *options) { o.baseURL = url } }

// WithHTTPClient sets the HTTP client for streaming and polling. Its
// Timeout must be zero (or longer than any stream should live): the client
// bounds each poll itself and detects silent streams with heartbeats.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.httpClient = c
		}
	}
}

// WithBootstrap provides a snapshot to serve until the server answers: a
// document saved from GET /sdk/v1/snapshot, or a flags file (YAML or JSON)
// declaring one environment (or used with WithEnvironment). A cached
// snapshot (WithCacheDir), when present and valid, is preferred.
func WithBootstrap(data []byte) Option { return func(o *options) { o.bootstrap = data } }

// WithBootstrapFile is WithBootstrap with the document read from path.
func WithBootstrapFile(path string) Option { return func(o *options) { o.bootstrapFile = path } }

// WithCacheDir keeps the last snapshot received from the server in dir
// (written atomically), and starts from it when the server is unreachable.
// The file is named after a hash of the SDK key, never the key itself.
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithEnvironment names the environment the SDK key belongs to. Snapshots
// of any other environment are then rejected from the start; without it,
// the first snapshot fixes the environment.
func WithEnvironment(env string) Option { return func(o *options) { o.environment = env } }

// WithOffline makes the client use no network at all: it serves the
// bootstrap or cached snapshot only.
func WithOffline() Option { return func(o *options) { o.offline = true } }

// WithPolling makes the client poll GET /sdk/v1/snapshot every interval
// instead of streaming. The same interval applies when a streaming client
// falls back to polling.
func WithPolling(interval time.Duration) Option {
	return func(o *options) {
		o.polling = true
		if interval > 0 {
			o.pollInterval = interval
		}
	}
}

// WithPollingFallback sets when a streaming client falls back to polling:
// after failures consecutive failed connections (default 3) it polls every
// interval (default DefaultPollInterval), and tries the stream again
// between polls.
func WithPollingFallback(failures int, interval time.Duration) Option {
	return func(o *options) {
		if failures > 0 {
			o.pollAfter = failures
		}
		if interval > 0 {
			o.pollInterval = interval
		}
	}
}

// WithBackoff sets the delays between reconnections: exponential from min
// to max (default 1s to 30s), each jittered down by up to half.
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) {
		if min > 0 {
			o.backoffMin = min
		}
		if max >= o.backoffMin {
			o.backoffMax = max
		}
	}
}

// WithStreamTimeout sets how long a stream may stay silent (no event, no
// heartbeat) before the client drops it and reconnects (default
// DefaultStreamTimeout).
func WithStreamTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.streamTimeout = d
		}
	}
}

// WithLogger sets the logger of connection problems and rejected
// snapshots. The default discards; Status and OnChange report the same
// conditions.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithInitTimeout makes New wait up to d for a first snapshot from the
// server when it has none from a bootstrap or cache. The default, 0, does
// not wait: evaluations return the caller's defaults (reason ERROR,
// ErrNotReady) until the first snapshot arrives. Evaluation never blocks
// either way; WaitReady waits later.
func WithInitTimeout(d time.Duration) Option { return func(o *options) { o.initTimeout = d } }
