package httpapi

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// Idempotency-Key (API.md): a POST inside an organization that carries the header runs
// at most once per (organization, principal, key) within idempotencyTTL. The first
// request claims the key in its own short transaction, runs, and stores its response;
// a retry with the same request gets that response again (status, body and the
// Content-Type, Location, ETag and Retry-After headers) plus Idempotent-Replayed:
// true, and changes nothing. The same key with another request (method, path with
// the organization resolved to its id, query or body byte for byte) is 422
// idempotency.key_reused; a retry while the first still runs is 409
// idempotency.in_progress with Retry-After: 1. A first response of 500 or above is
// not kept: the claim is released and a retry runs again.
//
// The principal is the acting account, API key or OAuth client, so one person's key
// never answers another's request, and keys of one organization never meet
// another's (the store is per tenant).
//
// Tenantless POSTs (sign-up, login, refresh, logout, MFA, POST /v1/orgs, accepting an
// invitation…) ignore the header: there is no tenant to keep the key in, and their
// answers hold credentials that must never be handed out twice (a refresh token
// works once). Their retries are safe anyway: sign-up and organization creation
// answer 409 for the email or slug they already took, the others create nothing a
// retry could duplicate.
//
// Stored responses can hold secrets shown once (a new API key, an OAuth client
// secret), so they are sealed with AES-256-GCM under a key derived from
// Deps.CursorKey and bound to their row (tenant, principal, key): a database dump
// alone reveals nothing.
const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
	idempotencyTTL       = 24 * time.Hour
	maxIdempotencyKeyLen = 255
)

// The idempotency problems.
const (
	codeIdempotencyKeyReused    coditect.Code = "idempotency.key_reused"
	codeIdempotencyInProgress   coditect.Code = "idempotency.in_progress"
	codeIdempotencyUnreplayable coditect.Code = "idempotency.unreplayable"
)

// replayedHeaders are the response headers kept with a response and replayed: those
// that describe its body and the resource it made. Per-request ones (X-Request-ID,
// rate limits) are the retry's own.
func replayedHeaders() []string { return []string{"Content-Type", "Location", "ETag", "Retry-After"} }

// idempotency runs POSTs that carry Idempotency-Key. A nil *idempotency (no store
// configured) answers them 503.
type idempotency struct {
	store IdempotencyStore
	seal  cipher.AEAD
	log   *slog.Logger
}

func newIdempotency(store IdempotencyStore, cursorKey []byte, log *slog.Logger) *idempotency {
	if store == nil {
		return nil
	}
	m := hmac.New(sha256.New, cursorKey)
	m.Write([]byte("coditect idempotent response seal v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil { // a 32-byte key: cannot happen
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &idempotency{store: store, seal: aead, log: log}
}

// validIdempotencyKey accepts 1 to 255 visible ASCII characters.
func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > maxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// serve answers r (a POST in actor's organization that sent the header) by running
// next at most once for its key.
func (m *idempotency) serve(w http.ResponseWriter, r *http.Request, actor coditect.Actor, next http.Handler) {
	values := r.Header.Values(headerIdempotencyKey)
	if len(values) != 1 || !validIdempotencyKey(values[0]) {
		writeProblem(w, r, coditect.Invalid(coditect.FieldError{Field: headerIdempotencyKey,
			Message: "must be sent once, with 1 to 255 visible ASCII characters"}))
		return
	}
	key := values[0]
	if m == nil {
		writeProblem(w, r, coditect.Errorf(coditect.CodeUnavailable, "Idempotency-Key is not configured on this server; retry without it"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeProblem(w, r, decodeError(readError{err}))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	hash := requestHash(r, actor.Tenant, body)
	principal := string(actor.Kind) + ":" + actor.ID()
	ctx := r.Context()
	for range 3 {
		claimed, err := m.store.IdempotencyClaim(ctx, principal, key, hash, time.Now().Add(idempotencyTTL))
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		if claimed {
			m.run(w, r, principal, key, actor.Tenant, next)
			return
		}
		prev, status, stored, err := m.store.IdempotencyLookup(ctx, principal, key)
		if coditect.IsNotFound(err) {
			continue // it expired or was released in between: claim it again
		}
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		if !hmac.Equal(prev, hash) {
			writeProblem(w, r, &coditect.Error{Code: codeIdempotencyKeyReused, Kind: coditect.CodeInvalid,
				Message: "this Idempotency-Key was already used for a different request; use a new key for a new request",
				Fields:  []coditect.FieldError{{Field: headerIdempotencyKey, Message: "was already used with another request"}}})
			return
		}
		if status == 0 {
			break
		}
		m.replay(w, r, principal, key, actor.Tenant, stored)
		return
	}
	w.Header().Set("Retry-After", "1")
	writeProblem(w, r, &coditect.Error{Code: codeIdempotencyInProgress, Kind: coditect.CodeConflict,
		Message: "a request with this Idempotency-Key is still being processed; retry shortly to get its response"})
}

// requestHash identifies a request for its key: method, path (with the {org} segment
// resolved to the tenant id, so slug and id are the same request), query and body.
func requestHash(r *http.Request, tenant coditect.TenantID, body []byte) []byte {
	path := r.URL.Path
	if segs := strings.SplitN(path, "/", 5); len(segs) >= 4 && segs[1] == "v1" && segs[2] == "orgs" {
		segs[3] = tenant.String()
		path = strings.Join(segs, "/")
	}
	h := sha256.New()
	for _, part := range []string{r.Method, path, r.URL.RawQuery} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(body)
	return h.Sum(nil)
}

// storedResponse is what is kept of a first response, sealed, in response_body.
type storedResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    []byte            `json:"body"`
}

// run runs next for a freshly claimed key, keeps its response (or releases the claim
// when it failed on our side) and then answers it.
func (m *idempotency) run(w http.ResponseWriter, r *http.Request, principal, key string, tenant coditect.TenantID, next http.Handler) {
	// Bookkeeping must happen even when the client has gone away meanwhile.
	ctx := context.WithoutCancel(r.Context())
	buf := &bufferedResponse{header: http.Header{}}
	finished := false
	defer func() {
		if !finished { // next panicked: a retry must run again, not wait for the claim to go stale
			if err := m.store.IdempotencyRelease(ctx, principal, key); err != nil {
				m.log.LogAttrs(ctx, slog.LevelError, "releasing an idempotency key", slog.String("request_id", requestIDFrom(ctx)), slog.String("error", err.Error()))
			}
		}
	}()
	next.ServeHTTP(buf, r)
	finished = true

	status := buf.status
	if status == 0 {
		status = http.StatusOK
	}
	if status >= 500 {
		if err := m.store.IdempotencyRelease(ctx, principal, key); err != nil {
			m.log.LogAttrs(ctx, slog.LevelError, "releasing an idempotency key", slog.String("request_id", requestIDFrom(ctx)), slog.String("error", err.Error()))
		}
	} else {
		resp := storedResponse{Status: status, Headers: map[string]string{}, Body: buf.body.Bytes()}
		for _, h := range replayedHeaders() {
			if v := buf.header.Get(h); v != "" {
				resp.Headers[h] = v
			}
		}
		sealed, err := m.sealResponse(resp, tenant, principal, key)
		if err == nil {
			err = m.store.IdempotencyComplete(ctx, principal, key, status, sealed)
		}
		if err != nil {
			// The change is made; answer it. The claim stays unfinished: retries get 409
			// until it goes stale (a minute), then run again.
			m.log.LogAttrs(ctx, slog.LevelError, "storing an idempotent response", slog.String("request_id", requestIDFrom(ctx)), slog.String("error", err.Error()))
		}
	}
	h := w.Header()
	for k, v := range buf.header {
		h[k] = v
	}
	w.WriteHeader(status)
	if buf.body.Len() > 0 {
		_, _ = w.Write(buf.body.Bytes())
	}
}

// replay answers a stored response again.
func (m *idempotency) replay(w http.ResponseWriter, r *http.Request, principal, key string, tenant coditect.TenantID, sealed []byte) {
	resp, err := m.openResponse(sealed, tenant, principal, key)
	if err != nil {
		writeProblem(w, r, &coditect.Error{Code: codeIdempotencyUnreplayable, Kind: coditect.CodeConflict,
			Message: "the first response to this Idempotency-Key cannot be replayed by this server; send the request with a new key", Err: err})
		return
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	h.Set(headerReplayed, "true")
	w.WriteHeader(resp.Status)
	if len(resp.Body) > 0 {
		_, _ = w.Write(resp.Body)
	}
}

const sealVersion = 1

// sealAD binds a sealed response to its row.
func sealAD(tenant coditect.TenantID, principal, key string) []byte {
	return []byte(tenant.String() + "\x00" + principal + "\x00" + key)
}

func (m *idempotency) sealResponse(resp storedResponse, tenant coditect.TenantID, principal, key string) ([]byte, error) {
	plain, err := json.Marshal(resp)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+m.seal.NonceSize(), 1+m.seal.NonceSize()+len(plain)+m.seal.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return m.seal.Seal(out, out[1:], plain, sealAD(tenant, principal, key)), nil
}

func (m *idempotency) openResponse(sealed []byte, tenant coditect.TenantID, principal, key string) (storedResponse, error) {
	var resp storedResponse
	n := m.seal.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return resp, errors.New("idempotency: not a sealed response")
	}
	plain, err := m.seal.Open(nil, sealed[1:1+n], sealed[1+n:], sealAD(tenant, principal, key))
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(plain, &resp); err != nil {
		return resp, err
	}
	if resp.Status < 200 || resp.Status > 599 {
		return resp, errors.New("idempotency: stored status out of range")
	}
	return resp, nil
}

// bufferedResponse holds a handler's whole answer until it is kept.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// Header returns the answer's headers.
func (b *bufferedResponse) Header() http.Header { return b.header }

// WriteHeader records the status; only the first counts.
func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

// Write buffers the body; writing first means 200.
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// documentIdempotency adds the Idempotency-Key header, its answers and the
// Idempotent-Replayed header of replays to a POST inside an organization.
func documentIdempotency(op operation) operation {
	op.Params = append(slices.Clone(op.Params), parameter{Name: headerIdempotencyKey, In: "header",
		Description: "Makes the request safe to retry (1 to 255 visible ASCII characters, unique per request): within 24 hours, the same key " +
			"with the same request returns the first response again (with Idempotent-Replayed: true) and changes nothing; the same key " +
			"with a different request is 422 idempotency.key_reused; while the first request still runs, 409 idempotency.in_progress " +
			"with Retry-After: 1. Keys are kept per organization and per caller (account, API key or OAuth client). A first response of " +
			"500 or above is not kept.",
		Schema: jsonSchema{"type": "string", "minLength": 1, "maxLength": maxIdempotencyKeyLen, "pattern": "^[\\x21-\\x7e]+$"}})
	op.Responses = maps.Clone(op.Responses)
	for status, resp := range op.Responses {
		if status >= 200 && status < 300 {
			resp.Headers = maps.Clone(resp.Headers)
			if resp.Headers == nil {
				resp.Headers = map[string]string{}
			}
			resp.Headers[headerReplayed] = "\"true\" when this is the stored response to an earlier request with the same Idempotency-Key."
			op.Responses[status] = resp
		}
	}
	op.Problems = slices.Clone(op.Problems)
	for _, p := range []int{http.StatusConflict, http.StatusUnprocessableEntity} {
		if !slices.Contains(op.Problems, p) {
			op.Problems = append(op.Problems, p)
		}
	}
	return op
}
