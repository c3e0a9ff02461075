package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
)

// List bounds (API.md: default 50, at most 200).
const (
	defaultPageLimit = 50
	maxPageLimit     = 200
	// storeMaxPage is the most a store list returns whatever it is asked for
	// (internal/postgres caps every page at 200). Lists ask the store for one item
	// more than the limit, to learn whether another page follows, but never for more
	// than this; at limit 200 the probe cannot be answered, so a full page always
	// carries a next_cursor, and the page after it may then be empty (with
	// next_cursor null). See morePages.
	storeMaxPage = 200
)

// page is the body of every list answer.
type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// position is a place in a list ordered by (created_at, id): the last item of the
// previous page. The zero position is the start.
type position struct {
	at time.Time
	id [16]byte
}

func (p position) isZero() bool { return p.at.IsZero() && p.id == [16]byte{} }

// before reports whether p comes before the item at (at, id).
func (p position) before(at time.Time, id [16]byte) bool {
	return at.After(p.at) || at.Equal(p.at) && bytes.Compare(id[:], p.id[:]) > 0
}

// pager reads ?limit= and ?cursor= and makes the next cursor. Cursors are opaque and
// tamper-evident: the position plus an HMAC over it and the list's name, so a client
// can neither forge a position nor carry a cursor from one list to another.
type pager struct{ key []byte }

const cursorPayloadLen = 8 + 16 // unix nanoseconds, id
const cursorMACLen = 16

// parse returns the requested limit and position, or an invalid-field error.
func (pg pager) parse(r *http.Request, list string) (int, position, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil { // r.URL.Query() would silently drop the bad part, say a cursor
		return 0, position{}, coditect.Errorf(coditect.CodeMalformed, "the query string is malformed")
	}
	limit := defaultPageLimit
	if s := q.Get("limit"); s != "" || q.Has("limit") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageLimit {
			return 0, position{}, coditect.Invalid(coditect.FieldError{Field: "limit", Message: "must be an integer from 1 to 200"})
		}
		limit = n
	}
	var pos position
	if s := q.Get("cursor"); s != "" || q.Has("cursor") {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(raw) != cursorPayloadLen+cursorMACLen ||
			!hmac.Equal(raw[cursorPayloadLen:], pg.mac(list, raw[:cursorPayloadLen])) {
			return 0, position{}, coditect.Invalid(coditect.FieldError{Field: "cursor", Message: "is not a cursor this list handed out"})
		}
		pos.at = time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8]))).UTC()
		copy(pos.id[:], raw[8:cursorPayloadLen])
	}
	return limit, pos, nil
}

// cursor encodes the position after the item (at, id).
func (pg pager) cursor(list string, at time.Time, id [16]byte) string {
	raw := make([]byte, cursorPayloadLen, cursorPayloadLen+cursorMACLen)
	binary.BigEndian.PutUint64(raw[:8], uint64(at.UnixNano()))
	copy(raw[8:], id[:])
	return base64.RawURLEncoding.EncodeToString(append(raw, pg.mac(list, raw)...))
}

func (pg pager) mac(list string, payload []byte) []byte {
	m := hmac.New(sha256.New, pg.key)
	m.Write([]byte("coditect list cursor\x00" + list + "\x00"))
	m.Write(payload)
	return m.Sum(nil)[:cursorMACLen]
}

// serveList answers one page of a store-backed list: it asks fetch for one item more
// than the limit to learn whether another page follows. key gives an item's position.
func serveList[T any](w http.ResponseWriter, r *http.Request, pg pager, list string,
	fetch func(context.Context, account.Page) ([]T, error), key func(T) (time.Time, [16]byte)) {
	limit, pos, err := pg.parse(r, list)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	items, err := fetch(r.Context(), account.Page{Limit: min(limit+1, storeMaxPage), CreatedAt: pos.at, ID: pos.id})
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writePage(w, pg, list, items[:min(len(items), limit)], morePages(len(items), limit), key)
}

// morePages reports whether another page may follow a page for which the store,
// asked for min(limit+1, storeMaxPage) items, returned n: it returned more than the
// limit, or the limit is the store's cap and it returned that many (then the next
// page may turn out empty).
func morePages(n, limit int) bool {
	return n > limit || n == limit && limit+1 > storeMaxPage
}

// serveSlice answers one page of a list the service returns whole (it is small and
// bounded, like an account's sessions), ordered by position like every other list.
func serveSlice[T any](w http.ResponseWriter, r *http.Request, pg pager, list string, items []T, key func(T) (time.Time, [16]byte)) {
	limit, pos, err := pg.parse(r, list)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	items = slices.Clone(items)
	slices.SortFunc(items, func(a, b T) int {
		at, aid := key(a)
		bt, bid := key(b)
		if c := at.Compare(bt); c != 0 {
			return c
		}
		return bytes.Compare(aid[:], bid[:])
	})
	rest := items[:0]
	for _, it := range items {
		if at, id := key(it); pos.isZero() || pos.before(at, id) {
			rest = append(rest, it)
		}
	}
	writePage(w, pg, list, rest[:min(len(rest), limit)], len(rest) > limit, key)
}

func writePage[T any](w http.ResponseWriter, pg pager, list string, items []T, more bool, key func(T) (time.Time, [16]byte)) {
	out := page[T]{Data: items}
	if out.Data == nil {
		out.Data = []T{}
	}
	if more && len(items) > 0 {
		at, id := key(items[len(items)-1])
		c := pg.cursor(list, at, id)
		out.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, out)
}
