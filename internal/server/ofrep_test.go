package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/server"
)

// The OpenFeature Go SDK's OFREP provider (go-sdk-contrib/providers/ofrep)
// could not be fetched where these tests were written, so ofrepClient
// below plays its part over raw HTTP: it maps statuses and bodies to
// values, reasons and error codes as that provider does (200 → value,
// 400 → the body's errorCode, 404 → FLAG_NOT_FOUND, 401/403/429/5xx →
// GENERAL, a value of the wrong type → TYPE_MISMATCH).

// ofrepFlags is testdata/ofrep-flags.yaml: a flag of every value type and
// every reason. internal/app's interop test evaluates the same file with an
// official OpenFeature provider.
var ofrepFlags = func() string {
	b, err := os.ReadFile("testdata/ofrep-flags.yaml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// ofrepFixture is a server with ofrepFlags, an SDK key of production and
// one of development.
type ofrepFixture struct {
	*fixture
	prodKey, devKey string
}

func newOFREPFixture(t testing.TB) *ofrepFixture {
	t.Helper()
	f := newFixture(t)
	f.apply(ofrepFlags)
	return &ofrepFixture{fixture: f, prodKey: f.sdkKey("production"), devKey: f.sdkKey("development")}
}

// sdkKey creates an SDK key for env and returns its secret.
func (f *fixture) sdkKey(env string) string {
	f.t.Helper()
	code, out := f.do("POST", "/api/v1/keys", `{"scope":"sdk","env":"`+env+`","name":"ofrep-`+env+`"}`)
	if code != http.StatusCreated {
		f.t.Fatalf("create SDK key: %d %v", code, out)
	}
	return out["secret"].(string)
}

// ofrepResponse is one raw OFREP answer.
type ofrepResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r ofrepResponse) object(t *testing.T) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("status %d, body %q is not a JSON object: %v", r.status, r.body, err)
	}
	return out
}

// post sends an OFREP request to base with the given headers (name, value
// pairs).
func post(t testing.TB, base, path, body string, headers ...string) ofrepResponse {
	t.Helper()
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return ofrepResponse{resp.StatusCode, resp.Header, data}
}

// resolution is what an OpenFeature client sees.
type resolution struct {
	Value     any
	Variant   string
	Reason    string
	ErrorCode string
	Metadata  map[string]any
}

// ofrepClient resolves flags the way the OFREP provider does.
type ofrepClient struct {
	t       *testing.T
	baseURL string
	key     string
}

// resolve evaluates key, wanting a value of kind want ("boolean",
// "string", "int", "float", "object"), and falls back to def on errors,
// as OpenFeature clients do.
func (c ofrepClient) resolve(key, want string, def any, evalCtx any) resolution {
	c.t.Helper()
	body, err := json.Marshal(map[string]any{"context": evalCtx})
	if err != nil {
		c.t.Fatal(err)
	}
	rsp := post(c.t, c.baseURL, "/ofrep/v1/evaluate/flags/"+key, string(body), "Authorization", "Bearer "+c.key)
	switch rsp.status {
	case 200:
	case 400:
		var e struct{ ErrorCode string }
		_ = json.Unmarshal(rsp.body, &e)
		return resolution{Value: def, Reason: "ERROR", ErrorCode: e.ErrorCode}
	case 404:
		return resolution{Value: def, Reason: "ERROR", ErrorCode: "FLAG_NOT_FOUND"}
	default:
		return resolution{Value: def, Reason: "ERROR", ErrorCode: "GENERAL"}
	}
	var ok struct {
		Key      string
		Value    json.RawMessage
		Variant  string
		Reason   string
		Metadata map[string]any
	}
	if err := json.Unmarshal(rsp.body, &ok); err != nil {
		return resolution{Value: def, Reason: "ERROR", ErrorCode: "PARSE_ERROR"}
	}
	res := resolution{Variant: ok.Variant, Reason: ok.Reason, Metadata: ok.Metadata}
	if ok.Value == nil {
		res.Value = def // codeDefaultFlag: no value, use the code default
		return res
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(ok.Value))
	dec.UseNumber()
	_ = dec.Decode(&v)
	mismatch := func() resolution {
		return resolution{Value: def, Reason: "ERROR", ErrorCode: "TYPE_MISMATCH"}
	}
	switch want {
	case "boolean":
		if _, isBool := v.(bool); !isBool {
			return mismatch()
		}
	case "string":
		if _, isString := v.(string); !isString {
			return mismatch()
		}
	case "int":
		n, isNumber := v.(json.Number)
		i, err := n.Int64()
		if !isNumber || err != nil {
			return mismatch()
		}
		v = i
	case "float":
		n, isNumber := v.(json.Number)
		fl, err := n.Float64()
		if !isNumber || err != nil {
			return mismatch()
		}
		v = fl
	case "object":
		if _, isObject := v.(map[string]any); !isObject {
			return mismatch()
		}
		_ = json.Unmarshal(ok.Value, &v) // plain float64 numbers for comparison
	}
	res.Value = v
	return res
}

func TestOFREPClientsSeeEveryValueTypeReasonAndError(t *testing.T) {
	f := newOFREPFixture(t)
	ts := httptest.NewServer(f.srv.Handler())
	defer ts.Close()
	c := ofrepClient{t: t, baseURL: ts.URL, key: f.prodKey}
	user := map[string]any{"targetingKey": "user-1"}
	for _, tc := range []struct {
		name, flag, want string
		def              any
		ctx              any
		expect           resolution
	}{
		{"a static boolean", "banner", "boolean", false, user,
			resolution{Value: true, Variant: "on", Reason: "STATIC", Metadata: map[string]any{"flagVersion": 1.0}}},
		{"a string from a matching rule", "greeting", "string", "", map[string]any{"targetingKey": "u", "country": "NL"},
			resolution{Value: `Hallo "wereld"`, Variant: "dutch", Reason: "TARGETING_MATCH", Metadata: map[string]any{"flagVersion": 1.0, "ruleId": "netherlands"}}},
		{"a string by default", "greeting", "string", "", map[string]any{"targetingKey": "u", "country": "BE"},
			resolution{Value: "Hello\nworld", Variant: "english", Reason: "DEFAULT", Metadata: map[string]any{"flagVersion": 1.0}}},
		{"an integer", "limit", "int", int64(0), user,
			resolution{Value: int64(3), Variant: "three", Reason: "DEFAULT", Metadata: map[string]any{"flagVersion": 1.0}}},
		{"a float", "limit", "float", 0.0, map[string]any{"targetingKey": "u", "plan": "pro"},
			resolution{Value: 3.14159, Variant: "pi", Reason: "TARGETING_MATCH", Metadata: map[string]any{"flagVersion": 1.0, "ruleId": "rules[0]"}}},
		{"an object", "theme", "object", nil, nil,
			resolution{Value: map[string]any{"colour": "blue", "sizes": []any{1.0, 2.5}, "nested": map[string]any{"deep": true}},
				Variant: "blue", Reason: "STATIC", Metadata: map[string]any{"flagVersion": 1.0}}},
		{"a split", "rollout", "boolean", false, user,
			resolution{Value: false, Variant: "off", Reason: "SPLIT", Metadata: map[string]any{"flagVersion": 1.0, "experimentKey": "new-checkout"}}},
		{"a disabled flag's off variant", "kill-switch", "boolean", true, user,
			resolution{Value: false, Variant: "off", Reason: "DISABLED", Metadata: map[string]any{"flagVersion": 1.0}}},
		{"a disabled flag without off variant: the code default", "parked", "string", "code default", user,
			resolution{Value: "code default", Reason: "DISABLED", Metadata: map[string]any{"flagVersion": 1.0}}},
		{"a failed prerequisite", "gated", "boolean", true, user,
			resolution{Value: false, Variant: "off", Reason: "PREREQUISITE_FAILED", Metadata: map[string]any{"flagVersion": 1.0}}},
		{"an unknown flag", "nope", "boolean", true, user,
			resolution{Value: true, Reason: "ERROR", ErrorCode: "FLAG_NOT_FOUND"}},
		{"another environment's flag", "dev-only", "boolean", false, user,
			resolution{Value: false, Reason: "ERROR", ErrorCode: "FLAG_NOT_FOUND"}},
		{"a split without targeting key", "rollout", "boolean", false, map[string]any{"country": "NL"},
			resolution{Value: false, Reason: "ERROR", ErrorCode: "TARGETING_KEY_MISSING"}},
		{"a string flag asked for a boolean", "greeting", "boolean", true, user,
			resolution{Value: true, Reason: "ERROR", ErrorCode: "TYPE_MISMATCH"}},
		{"a float asked for an integer", "limit", "int", int64(7), map[string]any{"targetingKey": "u", "plan": "pro"},
			resolution{Value: int64(7), Reason: "ERROR", ErrorCode: "TYPE_MISMATCH"}},
		{"a numeric targeting key", "banner", "boolean", false, map[string]any{"targetingKey": 42},
			resolution{Value: false, Reason: "ERROR", ErrorCode: "INVALID_CONTEXT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			got := c.resolve(tc.flag, tc.want, tc.def, tc.ctx)
			if !reflect.DeepEqual(got, tc.expect) {
				t.Errorf("got  %#v\nwant %#v", got, tc.expect)
			}
		})
	}

	// The wire forms: integral numbers without a fraction, every flag's
	// value typed, and a code-default answer without value.
	for _, tc := range []struct{ flag, ctx, want string }{
		{"limit", `{"targetingKey":"u"}`, `{"key":"limit","value":3,"variant":"three","reason":"DEFAULT","metadata":{"flagVersion":1}}`},
		{"parked", `{}`, `{"key":"parked","reason":"DISABLED","metadata":{"flagVersion":1}}`},
		{"greeting", `{"country":"NL"}`, `{"key":"greeting","value":"Hallo \"wereld\"","variant":"dutch","reason":"TARGETING_MATCH","metadata":{"flagVersion":1,"ruleId":"netherlands"}}`},
	} {
		rsp := post(t, ts.URL, "/ofrep/v1/evaluate/flags/"+tc.flag, `{"context":`+tc.ctx+`}`, "X-API-Key", f.prodKey)
		if rsp.status != 200 || string(rsp.body) != tc.want || rsp.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s %s\nwant %s", tc.flag, rsp.status, rsp.header.Get("Content-Type"), rsp.body, tc.want)
		}
	}
}

func TestOFREPRequestErrorsUseTheProtocolShapes(t *testing.T) {
	f := newOFREPFixture(t)
	single, bulk := "/ofrep/v1/evaluate/flags/banner", "/ofrep/v1/evaluate/flags"
	key := []string{"Authorization", "Bearer " + f.prodKey}
	for _, tc := range []struct {
		name, path, body string
		status           int
		want             map[string]any // fields the body must have
	}{
		{"bad JSON", single, `{"context":`, 400, map[string]any{"key": "banner", "errorCode": "PARSE_ERROR"}},
		{"a JSON array", single, `[1]`, 400, map[string]any{"errorCode": "PARSE_ERROR"}},
		{"a context that is not an object", single, `{"context":"x"}`, 400, map[string]any{"key": "banner", "errorCode": "INVALID_CONTEXT"}},
		{"a targeting key that is not a string", single, `{"context":{"targetingKey":true}}`, 400, map[string]any{"errorCode": "INVALID_CONTEXT"}},
		{"a missing targeting key for a split", "/ofrep/v1/evaluate/flags/rollout", `{"context":{}}`, 400, map[string]any{"key": "rollout", "errorCode": "TARGETING_KEY_MISSING"}},
		{"an unknown flag", "/ofrep/v1/evaluate/flags/nope", `{"context":{}}`, 404, map[string]any{"key": "nope", "errorCode": "FLAG_NOT_FOUND"}},
		{"bulk: bad JSON", bulk, `{`, 400, map[string]any{"errorCode": "PARSE_ERROR"}},
		{"bulk: bad context", bulk, `{"context":[1]}`, 400, map[string]any{"errorCode": "INVALID_CONTEXT"}},
		{"no body: an empty context", single, ``, 200, map[string]any{"key": "banner", "value": true, "reason": "STATIC"}},
		{"unknown top-level fields are ignored", single, `{"context":{},"extra":1}`, 200, map[string]any{"value": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rsp := post(t, f.ts.URL, tc.path, tc.body, key...)
			if rsp.status != tc.status {
				t.Fatalf("status %d, want %d: %s", rsp.status, tc.status, rsp.body)
			}
			out := rsp.object(t)
			for k, v := range tc.want {
				if !reflect.DeepEqual(out[k], v) {
					t.Errorf("%s = %v, want %v (body %s)", k, out[k], v, rsp.body)
				}
			}
			if tc.status >= 400 {
				if d, _ := out["errorDetails"].(string); d == "" {
					t.Errorf("no errorDetails: %s", rsp.body)
				}
				if tc.path == bulk {
					if _, has := out["key"]; has {
						t.Errorf("a request-level bulk failure names a key: %s", rsp.body)
					}
				}
			}
		})
	}
}

func TestOFREPNeedsAnSDKKeyOfItsEnvironment(t *testing.T) {
	f := newOFREPFixture(t)
	path := "/ofrep/v1/evaluate/flags/banner"
	for _, tc := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"no key", nil, 401},
		{"an unknown key", []string{"X-API-Key", "weir_sdk_nope"}, 401},
		{"an admin token", []string{"Authorization", "Bearer " + adminToken}, 403},
		{"an SDK key as X-API-Key", []string{"X-API-Key", f.prodKey}, 200},
	} {
		rsp := post(t, f.ts.URL, path, `{"context":{}}`, tc.headers...)
		if rsp.status != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, rsp.status, tc.want, rsp.body)
		}
	}
	// Each key evaluates its own environment only.
	for _, tc := range []struct {
		key, flag string
		want      int
	}{
		{f.devKey, "dev-only", 200},
		{f.prodKey, "dev-only", 404},
		{f.devKey, "banner", 404},
	} {
		if rsp := post(t, f.ts.URL, "/ofrep/v1/evaluate/flags/"+tc.flag, `{}`, "X-API-Key", tc.key); rsp.status != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.flag, rsp.status, tc.want, rsp.body)
		}
	}
	rsp := post(t, f.ts.URL, "/ofrep/v1/evaluate/flags", `{}`, "X-API-Key", f.devKey)
	if got := flagKeys(t, rsp); !reflect.DeepEqual(got, []string{"dev-only"}) {
		t.Errorf("development's bulk evaluation lists %v", got)
	}
}

func flagKeys(t *testing.T, rsp ofrepResponse) []string {
	t.Helper()
	var out struct{ Flags []struct{ Key string } }
	if err := json.Unmarshal(rsp.body, &out); err != nil || rsp.status != 200 {
		t.Fatalf("%d %s", rsp.status, rsp.body)
	}
	keys := []string{}
	for _, fl := range out.Flags {
		keys = append(keys, fl.Key)
	}
	return keys
}

func TestOFREPBulkEvaluatesEveryFlagAndRevalidatesWithETags(t *testing.T) {
	f := newOFREPFixture(t)
	bulk := "/ofrep/v1/evaluate/flags"
	key := []string{"Authorization", "Bearer " + f.prodKey}
	user := `{"context":{"targetingKey":"user-1","country":"NL"}}`

	first := post(t, f.ts.URL, bulk, user, key...)
	want := []string{"banner", "gated", "greeting", "kill-switch", "limit", "parked", "rollout", "theme"}
	if got := flagKeys(t, first); !reflect.DeepEqual(got, want) {
		t.Fatalf("flags %v, want %v", got, want)
	}
	var body struct {
		Flags    []map[string]any
		Metadata map[string]any
	}
	_ = json.Unmarshal(first.body, &body)
	byKey := map[string]map[string]any{}
	for _, fl := range body.Flags {
		byKey[fl["key"].(string)] = fl
	}
	if g := byKey["greeting"]; g["value"] != `Hallo "wereld"` || g["reason"] != "TARGETING_MATCH" {
		t.Errorf("greeting %v", g)
	}
	if p := byKey["parked"]; p["reason"] != "DISABLED" || p["value"] != nil {
		t.Errorf("parked %v", p)
	}
	if body.Metadata["environment"] != "production" {
		t.Errorf("metadata %v", body.Metadata)
	}

	// Without a targeting key the split fails inside flags; the rest evaluate.
	anon := post(t, f.ts.URL, bulk, `{"context":{}}`, key...)
	body.Flags = nil
	_ = json.Unmarshal(anon.body, &body)
	for _, fl := range body.Flags {
		if fl["key"] == "rollout" {
			if fl["errorCode"] != "TARGETING_KEY_MISSING" || fl["errorDetails"] == "" || fl["value"] != nil {
				t.Errorf("rollout without targeting key: %v", fl)
			}
		} else if fl["errorCode"] != nil {
			t.Errorf("%v failed", fl)
		}
	}

	etag := first.header.Get("ETag")
	if etag == "" || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag %q", etag)
	}
	if again := post(t, f.ts.URL, bulk, user, key...); again.header.Get("ETag") != etag {
		t.Errorf("same configuration and context, new ETag %q", again.header.Get("ETag"))
	}
	reordered := `{"context":{"country":"NL","targetingKey":"user-1"}}`
	if again := post(t, f.ts.URL, bulk, reordered, key...); again.header.Get("ETag") != etag {
		t.Errorf("the same context in another order got another ETag")
	}
	notModified := post(t, f.ts.URL, bulk, user, append(key, "If-None-Match", `"other", `+etag)...)
	if notModified.status != http.StatusNotModified || len(notModified.body) != 0 || notModified.header.Get("ETag") != etag {
		t.Errorf("If-None-Match with the current ETag: %d %q", notModified.status, notModified.body)
	}
	if other := post(t, f.ts.URL, bulk, `{"context":{"targetingKey":"user-2"}}`, append(key, "If-None-Match", etag)...); other.status != 200 || other.header.Get("ETag") == etag {
		t.Errorf("another context: %d, ETag %q", other.status, other.header.Get("ETag"))
	}

	code, out := f.do("POST", "/api/v1/flags/banner/environments/production/disable", `{"reason":"incident"}`)
	if code != 200 {
		t.Fatalf("disable: %d %v", code, out)
	}
	changed := post(t, f.ts.URL, bulk, user, append(key, "If-None-Match", etag)...)
	if changed.status != 200 || changed.header.Get("ETag") == etag {
		t.Fatalf("after a change: %d, ETag %q", changed.status, changed.header.Get("ETag"))
	}
	body.Flags = nil
	_ = json.Unmarshal(changed.body, &body)
	for _, fl := range body.Flags {
		if fl["key"] == "banner" && fl["reason"] != "DISABLED" {
			t.Errorf("banner after disabling: %v", fl)
		}
	}
}

func TestOFREPRateLimitsEachKey(t *testing.T) {
	f := newOFREPFixture(t)
	srv, err := server.New(server.Options{Store: f.st, OFREPRateLimit: server.RateLimit{PerSecond: 0.2, Burst: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	path := "/ofrep/v1/evaluate/flags/banner"
	for i := range 2 {
		if rsp := post(t, ts.URL, path, `{}`, "X-API-Key", f.prodKey); rsp.status != 200 {
			t.Fatalf("request %d within the burst: %d", i, rsp.status)
		}
	}
	rsp := post(t, ts.URL, path, `{}`, "X-API-Key", f.prodKey)
	if rsp.status != http.StatusTooManyRequests {
		t.Fatalf("beyond the burst: %d %s", rsp.status, rsp.body)
	}
	if after, err := strconv.Atoi(rsp.header.Get("Retry-After")); err != nil || after < 1 || after > 5 {
		t.Errorf("Retry-After %q", rsp.header.Get("Retry-After"))
	}
	// Another key has its own bucket.
	if rsp := post(t, ts.URL, "/ofrep/v1/evaluate/flags", `{}`, "X-API-Key", f.devKey); rsp.status != 200 {
		t.Errorf("another key: %d", rsp.status)
	}
}

func FuzzOFREPRequest(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"context":{}}`, `{"context":{"targetingKey":"u","country":"NL","plan":"pro"}}`,
		`{"context":null}`, `{"context":[]}`, `{"context":{"targetingKey":1}}`, `[`, `"x"`, `{"context":{"a":{"b":[1,{"c":null}]}}}`,
		"{\"context\":{\"targetingKey\":\"\xff\"}}", `{"context":{"targetingKey":"u"}} trailing`} {
		f.Add(seed, "rollout")
	}
	fx := newOFREPFixture(f)
	// Unlimited, so that fuzzing does not only meet 429s.
	srv, err := server.New(server.Options{Store: fx.st, OFREPRateLimit: server.RateLimit{PerSecond: -1}})
	if err != nil {
		f.Fatal(err)
	}
	if err := srv.Reload(context.Background()); err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, body, flag string) {
		for _, path := range []string{"/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/" + flag} {
			req := httptest.NewRequest("POST", "/", strings.NewReader(body))
			req.URL.Path = path
			req.Header.Set("X-API-Key", fx.prodKey)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %q: %d %s", path, body, rec.Code, rec.Body)
			}
			if strings.Contains(rec.Header().Get("Content-Type"), "json") {
				if !json.Valid(rec.Body.Bytes()) {
					t.Fatalf("%s %q: invalid JSON %q", path, body, rec.Body)
				}
			}
		}
	})
}

// discardWriter is a reusable ResponseWriter, so that the benchmark
// counts the handler's allocations rather than a recorder's.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// BenchmarkOFREPEvaluate serves one OFREP evaluation in process: the
// server's share of the wrk figure in docs/ofrep.md.
func BenchmarkOFREPEvaluate(b *testing.B) {
	for _, bc := range []struct{ name, path string }{
		{"single", "/ofrep/v1/evaluate/flags/greeting"},
		{"bulk", "/ofrep/v1/evaluate/flags"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newOFREPFixture(b)
			// The limiter stays on, but never refuses.
			srv, err := server.New(server.Options{Store: f.st, OFREPRateLimit: server.RateLimit{PerSecond: 1e12, Burst: 1e9}})
			if err != nil {
				b.Fatal(err)
			}
			if err := srv.Reload(context.Background()); err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			body := []byte(`{"context":{"targetingKey":"user-12345","country":"NL","plan":"pro"}}`)
			req := httptest.NewRequest("POST", bc.path, bytes.NewReader(body))
			req.Header.Set("X-API-Key", f.prodKey)
			w := &discardWriter{h: http.Header{}}
			rd := bytes.NewReader(body)
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				req.Body = io.NopCloser(rd)
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.status != 200 && w.status != 0 {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
