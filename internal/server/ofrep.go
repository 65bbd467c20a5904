package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/internal/jsonappend"
)

// This file serves the OpenFeature Remote Evaluation Protocol (OFREP), so
// that any OpenFeature SDK with an OFREP provider can evaluate Weir flags:
//
//	POST /ofrep/v1/evaluate/flags/{key}   one flag
//	POST /ofrep/v1/evaluate/flags         every flag of the key's environment
//
// Both take an SDK key (Authorization: Bearer or X-API-Key); the key's
// environment is the one evaluated. Evaluation reads the in-memory
// snapshot only: no database query, and the response body is appended by
// hand for scalar values (see appendOFREPSuccess), because this is the
// busiest path of the server. docs/ofrep.md describes the protocol as Weir
// speaks it.

// RateLimit bounds what one SDK key may do (OFREP requests, or events
// sent): a token bucket refilled at PerSecond tokens a second, holding at
// most Burst.
type RateLimit struct {
	// PerSecond is the sustained rate (OFREP default 1000 requests, intake
	// default 100,000 events). A negative value turns the limit off.
	PerSecond float64
	// Burst is the bucket's size (OFREP default 2000, intake default
	// 200,000).
	Burst int
}

// Defaults of RateLimit: generous, so that only a runaway client meets it.
const (
	defaultOFREPPerSecond = 1000
	defaultOFREPBurst     = 2000
)

func (s *Server) registerOFREP() {
	svc := &ofrepService{limiter: newKeyLimiter(s.ofrepLimit, RateLimit{PerSecond: defaultOFREPPerSecond, Burst: defaultOFREPBurst}),
		names: &nameTable{names: map[string]string{}}, evals: newEvalCounters()}
	if err := s.registry.Register(svc.evals.vec); err != nil {
		s.log.Error("registering the OFREP evaluation counters failed", "error", err.Error())
		svc.evals = nil
	}
	s.handle("POST", "/ofrep/v1/evaluate/flags/{key}", false, func(w http.ResponseWriter, r *http.Request) error {
		return s.ofrepSingle(w, r, svc)
	})
	s.handle("POST", "/ofrep/v1/evaluate/flags", false, func(w http.ResponseWriter, r *http.Request) error {
		return s.ofrepBulk(w, r, svc)
	})
}

// ofrepService is the state the OFREP handlers share.
type ofrepService struct {
	limiter *keyLimiter
	names   *nameTable
	evals   *evalCounters
}

// ofrepFailure is a request-level OFREP failure: a status and an
// OpenFeature error code, written as the protocol's evaluationFailure body.
type ofrepFailure struct {
	status  int
	code    string
	details string
}

// OFREP error codes that are not evaluation results.
const (
	ofrepParseError     = "PARSE_ERROR"
	ofrepInvalidContext = "INVALID_CONTEXT"
)

var errSnapshotsNotLoaded = &requestError{status: http.StatusServiceUnavailable, msg: "the configuration is not loaded yet; retry later"}

// ofrepAdmit authorizes the SDK key and takes a token from its bucket.
func (s *Server) ofrepAdmit(w http.ResponseWriter, r *http.Request, svc *ofrepService) (string, *snapshotSet, error) {
	key, err := s.authorizeSDK(r)
	if err != nil {
		return "", nil, err
	}
	if ok, wait := svc.limiter.allow(key.ID, time.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
		return "", nil, &requestError{status: http.StatusTooManyRequests, msg: "this SDK key exceeded its request rate; retry after the Retry-After delay"}
	}
	set := s.snapshots.Load()
	if set == nil {
		return "", nil, errSnapshotsNotLoaded
	}
	return key.Env, set, nil
}

func (s *Server) ofrepSingle(w http.ResponseWriter, r *http.Request, svc *ofrepService) error {
	env, set, err := s.ofrepAdmit(w, r, svc)
	if err != nil {
		return err
	}
	flagKey := r.PathValue("key")
	buf := getBuffer()
	defer putBuffer(buf)
	pooled := getAttributes()
	defer putAttributes(pooled)
	attrs, fail := readOFREPContext(r, buf, pooled, svc.names)
	if fail != nil {
		writeOFREPFailure(w, buf, fail.status, flagKey, true, fail.code, fail.details)
		return nil
	}
	ctx := eval.NewContext(attrs)
	var res eval.Result
	if snap := set.byEnv[env]; snap != nil {
		res = snap.Evaluate(flagKey, &ctx)
	} else {
		res = eval.Result{Reason: eval.ReasonError, ErrorCode: eval.ErrorFlagNotFound}
	}
	if unconfigured(&res) {
		res.ErrorCode, res.Reason = eval.ErrorFlagNotFound, eval.ReasonError
	}
	svc.evals.count(flagKey, res.ErrorCode != eval.ErrorFlagNotFound, &res)
	if res.IsError() {
		status := http.StatusBadRequest
		details := res.ErrorMessage
		if res.ErrorCode == eval.ErrorFlagNotFound {
			status = http.StatusNotFound
			details = "flag '" + flagKey + "' was not found in environment '" + env + "'"
		}
		writeOFREPFailure(w, buf, status, flagKey, true, res.ErrorCode.String(), details)
		return nil
	}
	b := appendOFREPResult((*buf)[:0], flagKey, &res)
	*buf = b
	writeOFREPBody(w, http.StatusOK, b)
	return nil
}

func (s *Server) ofrepBulk(w http.ResponseWriter, r *http.Request, svc *ofrepService) error {
	env, set, err := s.ofrepAdmit(w, r, svc)
	if err != nil {
		return err
	}
	buf := getBuffer()
	defer putBuffer(buf)
	pooled := getAttributes()
	defer putAttributes(pooled)
	attrs, fail := readOFREPContext(r, buf, pooled, svc.names)
	if fail != nil {
		writeOFREPFailure(w, buf, fail.status, "", false, fail.code, fail.details)
		return nil
	}
	etag := bulkETag(env, set.auditSeq, attrs)
	w.Header().Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	ctx := eval.NewContext(attrs)
	b := append((*buf)[:0], `{"flags":[`...)
	if snap := set.byEnv[env]; snap != nil {
		first := true
		for _, key := range snap.Keys() {
			res := snap.Evaluate(key, &ctx)
			if unconfigured(&res) {
				continue
			}
			svc.evals.count(key, true, &res)
			if !first {
				b = append(b, ',')
			}
			first = false
			if res.IsError() {
				b = appendOFREPError(b, key, true, res.ErrorCode.String(), res.ErrorMessage)
				continue
			}
			b = appendOFREPResult(b, key, &res)
		}
	}
	b = append(b, `],"metadata":{"environment":`...)
	b = jsonappend.String(b, env)
	b = append(b, `,"configVersion":`...)
	b = strconv.AppendInt(b, set.auditSeq, 10)
	b = append(b, "}}"...)
	*buf = b
	writeOFREPBody(w, http.StatusOK, b)
	return nil
}

// unconfigured reports whether a result is that of a flag without any
// configuration in the snapshot's environment: flags are defined once for
// every environment, and the snapshot serves such a flag as disabled with
// version 0 (configured states have versions from 1). Over OFREP the key's
// environment is all a client can see, so such a flag does not exist
// there: FLAG_NOT_FOUND, and left out of bulk evaluations.
func unconfigured(res *eval.Result) bool {
	return res.Reason == eval.ReasonDisabled && res.Version == 0
}

// readOFREPContext reads {"context": {...}} into buf and decodes the
// context. An empty body or an absent or null context is an empty
// context: flags that need no targeting key still evaluate. Unknown
// top-level fields are ignored, for forward compatibility with newer
// OFREP clients.
//
// pooled is an empty map the common case decodes into (see
// decodeFlatContext); the result may be it.
func readOFREPContext(r *http.Request, buf *[]byte, pooled map[string]any, names *nameTable) (map[string]any, *ofrepFailure) {
	b, err := readAllInto((*buf)[:0], r.Body)
	*buf = b
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &ofrepFailure{http.StatusRequestEntityTooLarge, ofrepParseError, "the body is larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes"}
		}
		return nil, &ofrepFailure{http.StatusBadRequest, ofrepParseError, "reading the body failed"}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if sawContext, ok := decodeFlatContext(b, pooled, names); ok {
		if !sawContext {
			return nil, nil
		}
		if tk, ok := pooled["targetingKey"]; ok && tk != nil {
			if _, isString := tk.(string); !isString {
				return nil, &ofrepFailure{http.StatusBadRequest, ofrepInvalidContext, "context.targetingKey must be a string"}
			}
		}
		return pooled, nil
	}
	var req struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && strings.HasPrefix(te.Field, "context") {
			return nil, &ofrepFailure{http.StatusBadRequest, ofrepInvalidContext, "context must be a JSON object"}
		}
		return nil, &ofrepFailure{http.StatusBadRequest, ofrepParseError, "the body is not a JSON object of the form {\"context\": {...}}: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	if tk, ok := req.Context["targetingKey"]; ok && tk != nil {
		if _, isString := tk.(string); !isString {
			return nil, &ofrepFailure{http.StatusBadRequest, ofrepInvalidContext, "context.targetingKey must be a string"}
		}
	}
	return req.Context, nil
}

// readAllInto appends everything r holds to b, growing it as needed.
func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// bulkETag identifies what a bulk evaluation depends on: the environment,
// the configuration (the audit sequence of the loaded snapshots: every
// committed change advances it) and the context. encoding/json sorts map
// keys, so equal contexts hash equally whatever their key order. The
// audit sequence is shared by all environments, so a change elsewhere also
// changes the tag: a spurious refetch, never a stale answer.
func bulkETag(env string, auditSeq int64, attrs map[string]any) string {
	var d xxhash.Digest
	d.Reset()
	d.WriteString("ofrep/v1\x00")
	d.WriteString(env)
	d.WriteString("\x00")
	var seq [20]byte
	d.Write(strconv.AppendInt(seq[:0], auditSeq, 10))
	d.WriteString("\x00")
	if len(attrs) > 0 {
		canon, err := json.Marshal(attrs)
		if err == nil {
			d.Write(canon)
		}
	}
	return `"` + strconv.FormatUint(d.Sum64(), 16) + `"`
}

// etagMatches applies If-None-Match's weak comparison: any listed tag
// equal to etag, ignoring W/ prefixes.
func etagMatches(header, etag string) bool {
	for header != "" {
		var tag string
		tag, header, _ = strings.Cut(header, ",")
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag {
			return true
		}
	}
	return false
}

// jsonContentType is shared by every response: assigning the header's
// slice directly saves an allocation per request (net/http only reads it).
var jsonContentType = []string{"application/json"}

func writeOFREPBody(w http.ResponseWriter, status int, b []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeOFREPFailure(w http.ResponseWriter, buf *[]byte, status int, key string, withKey bool, code, details string) {
	b := appendOFREPError((*buf)[:0], key, withKey, code, details)
	*buf = b
	writeOFREPBody(w, status, b)
}

// appendOFREPError appends an evaluationFailure object.
func appendOFREPError(b []byte, key string, withKey bool, code, details string) []byte {
	b = append(b, '{')
	if withKey {
		b = append(b, `"key":`...)
		b = jsonappend.String(b, key)
		b = append(b, ',')
	}
	b = append(b, `"errorCode":`...)
	b = jsonappend.String(b, code)
	if details != "" {
		b = append(b, `,"errorDetails":`...)
		b = jsonappend.String(b, details)
	}
	return append(b, '}')
}

// appendOFREPResult appends a successful evaluation. When no variant is
// served (a disabled flag, or one whose prerequisite failed, without an
// off variant) value and variant are left out: that is OFREP's
// codeDefaultFlag, which tells the provider to use the application's
// default value, with the reason saying why.
func appendOFREPResult(b []byte, key string, res *eval.Result) []byte {
	start := len(b)
	b = append(b, `{"key":`...)
	b = jsonappend.String(b, key)
	if res.Variant != "" {
		b = append(b, `,"value":`...)
		var ok bool
		if b, ok = appendJSONValue(b, res.Value); !ok {
			return appendOFREPError(b[:start], key, true, eval.ErrorGeneral.String(), "the flag's value cannot be encoded as JSON")
		}
		b = append(b, `,"variant":`...)
		b = jsonappend.String(b, res.Variant)
	}
	b = append(b, `,"reason":"`...)
	b = append(b, res.Reason.String()...)
	b = append(b, `","metadata":{`...)
	b = appendOFREPMetadata(b, res)
	return append(b, "}}"...)
}

// appendOFREPMetadata appends the flag metadata's members: the flag's
// version in the environment, the matching rule, and the experiment or
// guarded rollout that served the variant. Metadata values are scalars
// (OFREP allows booleans, strings and numbers).
func appendOFREPMetadata(b []byte, res *eval.Result) []byte {
	b = append(b, `"flagVersion":`...)
	b = strconv.AppendInt(b, res.Version, 10)
	if res.RuleID != "" {
		b = append(b, `,"ruleId":`...)
		b = jsonappend.String(b, res.RuleID)
	}
	if a := res.Allocation; a != nil {
		if a.Experiment != "" {
			b = append(b, `,"experimentKey":`...)
			b = jsonappend.String(b, a.Experiment)
		}
		if a.Rollout != "" {
			b = append(b, `,"rolloutKey":`...)
			b = jsonappend.String(b, a.Rollout)
		}
	}
	return b
}

// appendJSONValue appends a flag value. Scalars are appended by hand;
// objects and lists go through encoding/json. Integral numbers are written
// without a fraction (3, not 3.0), so that clients decoding into an
// integer accept them. It reports false for a value JSON cannot hold.
func appendJSONValue(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case bool:
		return strconv.AppendBool(b, v), true
	case string:
		return jsonappend.String(b, v), true
	case float64:
		return appendJSONNumber(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10), true
	case int64:
		return strconv.AppendInt(b, v, 10), true
	case nil:
		return append(b, "null"...), true
	default:
		enc, err := json.Marshal(v)
		if err != nil {
			return b, false
		}
		return append(b, enc...), true
	}
}

func appendJSONNumber(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		if f == 0 {
			return append(b, '0'), true // also -0
		}
		return strconv.AppendFloat(b, f, 'f', -1, 64), true
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64), true
}

// bufferPool recycles request and response buffers of the OFREP
// handlers; buffers that grew past maxPooledBuffer are dropped, so one
// large request does not pin memory.
var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledBuffer = 64 << 10

func getBuffer() *[]byte { return bufferPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	bufferPool.Put(b)
}

// attributesPool recycles context maps: evaluation only reads them and
// nothing keeps them past the request.
var attributesPool = sync.Pool{New: func() any { return make(map[string]any, 8) }}

func getAttributes() map[string]any { return attributesPool.Get().(map[string]any) }

func putAttributes(m map[string]any) {
	if len(m) > 64 {
		return
	}
	clear(m)
	attributesPool.Put(m)
}

// keyLimiter holds one token bucket per SDK key. Only authorized keys get
// a bucket, so the map is bounded by the number of keys issued.
type keyLimiter struct {
	perSecond float64
	burst     float64
	off       bool
	buckets   sync.Map // key ID → *tokenBucket
}

type tokenBucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// newKeyLimiter returns a limiter of l, taking defaults for what l leaves
// unset.
func newKeyLimiter(l RateLimit, defaults RateLimit) *keyLimiter {
	if l.PerSecond == 0 {
		l.PerSecond = defaults.PerSecond
	}
	if l.Burst <= 0 {
		l.Burst = defaults.Burst
	}
	return &keyLimiter{perSecond: l.PerSecond, burst: float64(l.Burst), off: l.PerSecond < 0}
}

// allow takes a token from id's bucket, or reports how long until one is
// there.
func (l *keyLimiter) allow(id string, now time.Time) (bool, time.Duration) {
	return l.allowN(id, 1, now)
}

// allowN takes n tokens from id's bucket, or takes none and reports how
// long until n are there. A request for more tokens than the bucket holds
// is treated as one for a full bucket, so that it waits rather than fails
// forever.
func (l *keyLimiter) allowN(id string, n float64, now time.Time) (bool, time.Duration) {
	if l.off {
		return true, 0
	}
	n = min(n, l.burst)
	b := l.bucket(id, now)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(l, now)
	if b.tokens >= n {
		b.tokens -= n
		return true, 0
	}
	return false, time.Duration((n - b.tokens) / l.perSecond * float64(time.Second))
}

// available reports whether id's bucket holds at least one token, without
// taking it, or how long until it does.
func (l *keyLimiter) available(id string, now time.Time) (bool, time.Duration) {
	if l.off {
		return true, 0
	}
	b := l.bucket(id, now)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(l, now)
	if b.tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.perSecond * float64(time.Second))
}

// refund gives back n tokens taken for work that was not done.
func (l *keyLimiter) refund(id string, n float64) {
	if l.off {
		return
	}
	if v, ok := l.buckets.Load(id); ok {
		b := v.(*tokenBucket)
		b.mu.Lock()
		b.tokens = min(l.burst, b.tokens+n)
		b.mu.Unlock()
	}
}

func (l *keyLimiter) bucket(id string, now time.Time) *tokenBucket {
	v, ok := l.buckets.Load(id)
	if !ok {
		v, _ = l.buckets.LoadOrStore(id, &tokenBucket{tokens: l.burst, last: now})
	}
	return v.(*tokenBucket)
}

func (b *tokenBucket) refill(l *keyLimiter, now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed.Seconds()*l.perSecond)
		b.last = now
	}
}

// retryAfterSeconds rounds a wait up to whole seconds, at least one, as
// Retry-After counts.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
