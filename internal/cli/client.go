package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// defaultServer is where the commands that talk to a server look for it
// unless --server or WEIR_SERVER says otherwise; it is where `weir serve`
// listens by default.
const defaultServer = "http://127.0.0.1:8420"

// requestTimeout bounds one request to the server, from dialling to the last
// byte of the response.
const requestTimeout = 30 * time.Second

// maxResponse bounds a response body read from the server.
const maxResponse = 64 << 20

// remote holds the connection settings of the commands that talk to a
// running server.
type remote struct {
	server string
	token  string
}

// addRemoteFlags adds --server and --token to cmd and its sub-commands. The
// token's default is read from WEIR_TOKEN when a request is made, not when
// flags are defined, so it never appears in --help.
func addRemoteFlags(cmd *cobra.Command, r *remote) {
	f := cmd.PersistentFlags()
	f.StringVar(&r.server, "server", envOr("WEIR_SERVER", defaultServer), "URL of the Weir server (WEIR_SERVER)")
	f.StringVar(&r.token, "token", "", "admin token (default from WEIR_TOKEN; prefer the variable: flags show up in process lists)")
}

// client returns an HTTP client for the configured server.
func (r *remote) client() (*client, error) {
	base, err := url.Parse(strings.TrimRight(r.server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("--server %q: want a URL such as %s", r.server, defaultServer)
	}
	token := r.token
	if token == "" {
		token = os.Getenv("WEIR_TOKEN")
	}
	return &client{base: base, token: token, http: &http.Client{Timeout: requestTimeout}}, nil
}

// client makes JSON requests to the admin API. Failures are already
// classified for Run: a problem the user can fix is a plain error (exit 1),
// anything else is an envError (exit 2).
type client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// request describes one call; body, when set, is sent with contentType.
type request struct {
	method      string
	path        string // escaped path, starting with /
	query       url.Values
	body        []byte
	contentType string
}

// getJSON GETs path and decodes the JSON response into out.
func (c *client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	raw, err := c.do(ctx, request{method: http.MethodGet, path: path, query: query})
	if err != nil {
		return err
	}
	return decodeResponse(raw, out)
}

// sendJSON sends in as a JSON body and decodes the JSON response into out
// (when out is not nil). It returns the raw response for -o json.
func (c *client) sendJSON(ctx context.Context, method, path string, in, out any) ([]byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	raw, err := c.do(ctx, request{method: method, path: path, body: body, contentType: "application/json"})
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := decodeResponse(raw, out); err != nil {
			return nil, err
		}
	}
	return raw, nil
}

func decodeResponse(raw []byte, out any) error {
	if err := json.Unmarshal(raw, out); err != nil {
		return envError{fmt.Errorf("the server sent a response that is not the expected JSON: %w", err)}
	}
	return nil
}

// newRequest builds the HTTP request of req, with the token.
func (c *client) newRequest(ctx context.Context, req request, accept string) (*http.Request, error) {
	u := c.base.String() + req.path
	if q := req.query.Encode(); q != "" {
		u += "?" + q
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	hr.Header.Set("Accept", accept)
	hr.Header.Set("User-Agent", "weir-cli/"+Version)
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	return hr, nil
}

// do sends req and returns the body of a 2xx response.
func (c *client) do(ctx context.Context, req request) ([]byte, error) {
	hr, err := c.newRequest(ctx, req, "application/json, application/problem+json")
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		// url.Error names the method and URL, never the headers, so the
		// token cannot leak through it.
		return nil, envError{fmt.Errorf("cannot reach the Weir server at %s: %w", c.base.Redacted(), unwrapURLError(err))}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, envError{fmt.Errorf("read the response of %s %s: %w", req.method, req.path, err)}
	}
	if len(raw) > maxResponse {
		return nil, envError{fmt.Errorf("the response of %s %s is larger than %d bytes", req.method, req.path, maxResponse)}
	}
	if resp.StatusCode/100 == 2 {
		return raw, nil
	}
	return nil, responseError(resp.StatusCode, resp.Header.Get("Content-Type"), raw)
}

// unwrapURLError drops the "Get \"http://…\": " prefix of a url.Error; the
// message already names the server.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("no response within %s", requestTimeout)
		}
		return ue.Err
	}
	return err
}

// problemDetails is an RFC 9457 problem details document as the server
// writes it.
type problemDetails struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
	Problems []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"problems"`
	CurrentVersion *int64 `json:"currentVersion"`
}

// apiError is a non-2xx response, readable as "title: detail" followed by
// one indented "field: message" line per problem.
type apiError struct {
	status  int
	problem problemDetails
}

func (e *apiError) Error() string {
	var b strings.Builder
	p := e.problem
	title := p.Title
	if title == "" {
		title = http.StatusText(e.status)
	}
	b.WriteString(title)
	if p.Detail != "" && p.Detail != title {
		b.WriteString(": ")
		b.WriteString(p.Detail)
	}
	for _, fp := range p.Problems {
		// A single problem whose field and message already make up the
		// detail would only repeat it.
		if len(p.Problems) == 1 && p.Detail == fp.Field+": "+fp.Message {
			break
		}
		b.WriteString("\n  ")
		if fp.Field != "" {
			b.WriteString(fp.Field)
			b.WriteString(": ")
		}
		b.WriteString(fp.Message)
	}
	if p.CurrentVersion != nil && !strings.Contains(p.Detail, "current") {
		fmt.Fprintf(&b, "\n  current version: %d", *p.CurrentVersion)
	}
	switch e.status {
	case http.StatusUnauthorized:
		b.WriteString("\n  hint: set WEIR_TOKEN (or --token) to a valid admin token")
	case http.StatusForbidden:
		b.WriteString("\n  hint: WEIR_TOKEN holds a key without admin scope; use an admin token")
	}
	return b.String()
}

// responseError turns an error response into an error classified for Run:
// 4xx is the user's (exit 1), everything else the environment's (exit 2).
func responseError(status int, contentType string, body []byte) error {
	e := &apiError{status: status}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/problem+json" || mt == "application/json" {
		_ = json.Unmarshal(body, &e.problem)
	}
	if e.problem.Title == "" && e.problem.Detail == "" {
		// Not a problem document (a proxy's page, say): show its start.
		e.problem.Title = fmt.Sprintf("%d %s", status, http.StatusText(status))
		if snippet := strings.TrimSpace(string(body)); snippet != "" {
			if len(snippet) > 200 {
				snippet = snippet[:200] + "…"
			}
			e.problem.Detail = snippet
		}
	}
	if status >= 400 && status < 500 {
		return e
	}
	return envError{e}
}

// pathf formats a URL path, escaping each argument as one path segment.
func pathf(format string, args ...string) string {
	esc := make([]any, len(args))
	for i, a := range args {
		esc[i] = url.PathEscape(a)
	}
	return fmt.Sprintf(format, esc...)
}

// checkOutput reports an -o value outside allowed.
func checkOutput(got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q (want %s)", got, strings.Join(allowed, " or "))
}

// writeRaw writes a server response as it came, ending with a newline.
func writeRaw(w io.Writer, raw []byte) error {
	if len(raw) > 0 && raw[len(raw)-1] != '\n' {
		raw = append(raw, '\n')
	}
	if _, err := w.Write(raw); err != nil {
		return envError{fmt.Errorf("write output: %w", err)}
	}
	return nil
}
