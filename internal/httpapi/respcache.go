package httpapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// ResponseCache keeps whole API answers of selected GET routes for a short time, per
// tenant (redis.Cache implements it). Every committed write in a tenant drops all of
// its entries.
type ResponseCache interface {
	// LookupResponse returns the entry under key in tenant t's cache. On a miss, fill
	// (never nil) stores the answer computed instead, unless the tenant was written to
	// since the lookup.
	LookupResponse(ctx context.Context, t coditect.TenantID, key string) (entry []byte, fill func(entry []byte), hit bool)
}

// cachedResponse is what the response cache keeps of an answer besides its body.
type cachedResponse struct {
	Header http.Header `json:"h"`
	At     time.Time   `json:"at"`
}

// encodeCached lays an answer out as 4 bytes of meta length, the meta in JSON, then the
// body as is (no base64, no second JSON pass over the body).
func encodeCached(meta cachedResponse, body []byte) ([]byte, error) {
	m, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(m)+len(body)), uint32(len(m)))
	return append(append(out, m...), body...), nil
}

func decodeCached(raw []byte) (cachedResponse, []byte, error) {
	var meta cachedResponse
	if len(raw) < 4 {
		return meta, nil, errors.New("short cached answer")
	}
	n := int(binary.BigEndian.Uint32(raw))
	if n > len(raw)-4 {
		return meta, nil, errors.New("short cached answer")
	}
	if err := json.Unmarshal(raw[4:4+n], &meta); err != nil {
		return meta, nil, err
	}
	return meta, raw[4+n:], nil
}

// uncachedHeaders are never stored: they belong to one request or one caller.
var uncachedHeaders = []string{"Set-Cookie", "X-Request-Id", "Date", "Retry-After"}

// responseCacheKey is the key of a request's entry within its tenant: the caller's
// role (what a role may see differs), the route, the path and the query in canonical
// order. Every route cached answers the same to every caller of one role in one
// tenant, so the principal itself need not be part of it.
func responseCacheKey(r *http.Request, role coditect.Role) string {
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(string(role))
	b.WriteByte('\x00')
	b.WriteString(r.Pattern)
	b.WriteByte('\x00')
	b.WriteString(r.URL.EscapedPath())
	for _, k := range keys {
		vs := q[k]
		for _, v := range vs {
			b.WriteByte('\x00')
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String()
}

// serveCached answers a cacheable GET from the cache, or runs next and keeps its 200
// answer. A request's Cache-Control is honoured: no-cache skips the lookup (the fresh
// answer is still stored), no-store skips the cache entirely. X-Cache says which
// happened; a hit also has Age.
func (a *access) serveCached(w http.ResponseWriter, r *http.Request, actor coditect.Actor, next http.Handler) {
	cc := strings.ToLower(strings.Join(r.Header.Values("Cache-Control"), ","))
	if strings.Contains(cc, "no-store") || r.Header.Get("If-None-Match") != "" || r.Header.Get("Range") != "" {
		next.ServeHTTP(w, r)
		return
	}
	key := responseCacheKey(r, actor.Role)
	raw, fill, hit := a.responses.LookupResponse(r.Context(), actor.Tenant, key)
	if hit && !strings.Contains(cc, "no-cache") {
		if c, body, err := decodeCached(raw); err == nil {
			h := w.Header()
			for k, v := range c.Header {
				h[k] = v
			}
			h.Set("X-Cache", "HIT")
			h.Set("Age", strconv.Itoa(int(time.Since(c.At).Seconds())))
			h.Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusOK)
			if r.Method != http.MethodHead {
				_, _ = w.Write(body)
			}
			return
		}
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(rec, r)
	h := w.Header()
	for k, v := range rec.header {
		h[k] = v
	}
	h.Set("X-Cache", "MISS")
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
	if rec.status != http.StatusOK || strings.Contains(strings.ToLower(rec.header.Get("Cache-Control")), "private") {
		return
	}
	keep := rec.header.Clone()
	for _, name := range uncachedHeaders {
		keep.Del(name)
	}
	if entry, err := encodeCached(cachedResponse{Header: keep, At: time.Now()}, rec.body.Bytes()); err == nil {
		fill(entry)
	}
}

// recorder buffers an answer so it can be both sent and cached. Only small JSON
// answers of GET routes pass through it.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	return r.body.Write(p)
}
