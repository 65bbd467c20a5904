package sdk

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/weirhq/weir/event"
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

	events        bool
	eventsURL     string
	flushInterval time.Duration
	batchSize     int
	bufferSize    int
	dedupWindow   time.Duration
}

// Defaults.
const (
	DefaultBaseURL      = "http://localhost:8420"
	DefaultPollInterval = 30 * time.Second
	// DefaultStreamTimeout is how long a stream may stay silent before the
	// client reconnects; the server sends a heartbeat every 15 seconds.
	DefaultStreamTimeout = 60 * time.Second

	// DefaultEventFlushInterval is how often buffered events are sent when
	// fewer than a batch are waiting.
	DefaultEventFlushInterval = 2 * time.Second
	// DefaultEventBatchSize is how many events make a full batch, sent at
	// once.
	DefaultEventBatchSize = 500
	// DefaultEventBufferSize bounds the events the client holds, waiting or
	// being delivered; beyond it new events are dropped and counted.
	DefaultEventBufferSize = 10_000
	// DefaultExposureDedupWindow is how long an exposure of a unit to a
	// flag's variant at one version is recorded only once.
	DefaultExposureDedupWindow = 10 * time.Minute
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
		events:         true,
		flushInterval:  DefaultEventFlushInterval,
		batchSize:      DefaultEventBatchSize,
		bufferSize:     DefaultEventBufferSize,
		dedupWindow:    DefaultExposureDedupWindow,
	}
}

// WithBaseURL sets the Weir server's address (default DefaultBaseURL).
func WithBaseURL(url string) Option { return func(o *options) { o.baseURL = url } }

// WithHTTPClient sets the HTTP client for streaming, polling and sending
// events. Its Timeout must be zero (or longer than any stream should
// live): the client bounds each poll and each event batch itself and
// detects silent streams with heartbeats.
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

// WithBackoff sets the delays between reconnections, and between attempts
// to deliver an event batch: exponential from min to max (default 1s to
// 30s), each jittered down by up to half.
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

// WithEvents turns the recording and sending of events on (the default) or
// off. Off, evaluations record no exposures and Track does nothing. An
// offline client (WithOffline) never records or sends events.
func WithEvents(enabled bool) Option { return func(o *options) { o.events = enabled } }

// WithEventsBaseURL sets the address of the event intake
// (POST {url}/events/v1/batch) when it is not the Weir server of
// WithBaseURL.
func WithEventsBaseURL(url string) Option { return func(o *options) { o.eventsURL = url } }

// WithEventFlushInterval sets how long events may wait in the buffer before
// they are sent even though they do not fill a batch (default
// DefaultEventFlushInterval).
func WithEventFlushInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.flushInterval = d
		}
	}
}

// WithEventBatchSize sets how many events make a batch, sent as soon as it
// is full (default DefaultEventBatchSize, at most the intake's limit of
// event.DefaultLimits().MaxEvents).
func WithEventBatchSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.batchSize = min(n, event.DefaultLimits().MaxEvents)
		}
	}
}

// WithEventBufferSize bounds how many events the client holds, waiting to
// be sent or being delivered (default DefaultEventBufferSize). When it is
// full, new events are dropped; EventStats and the next batch count them.
func WithEventBufferSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.bufferSize = n
		}
	}
}

// WithExposureDedupWindow sets how long repeated evaluations that expose a
// unit to the same variant of the same flag version record one exposure
// (default DefaultExposureDedupWindow). An exposure is recorded again once
// the window has passed, within an eighth of it more.
func WithExposureDedupWindow(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.dedupWindow = d
		}
	}
}
