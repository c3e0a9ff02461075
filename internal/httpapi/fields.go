package httpapi

import (
	"bytes"
	"encoding/json"
	"net/url"
	"time"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/work"
)

// field is one member of a request body as sent: absent (zero), null, or a raw JSON
// value, decoded later by the bodyFields helpers so that a bad UUID or time is an
// error naming its field, and so a partial update can tell absent from null.
type field struct {
	set bool
	raw []byte
}

// UnmarshalJSON implements json.Unmarshaler; encoding/json calls it for a member that
// is present, null included.
func (f *field) UnmarshalJSON(b []byte) error {
	f.set, f.raw = true, bytes.Clone(b)
	return nil
}

func (f field) null() bool { return f.set && bytes.Equal(bytes.TrimSpace(f.raw), []byte("null")) }

// bodyFields collects the field errors of one request (body or query string).
type bodyFields []coditect.FieldError

func (b *bodyFields) add(name, msg string) {
	*b = append(*b, coditect.FieldError{Field: name, Message: msg})
}

// err returns the validation error, or nil when every field was fine.
func (b bodyFields) err() error {
	if len(b) == 0 {
		return nil
	}
	return coditect.Invalid(b...)
}

// text decodes a string member of a partial update: nil when absent. null is an
// error, since the field cannot be cleared.
func (b *bodyFields) text(name string, f field) *string {
	if !f.set {
		return nil
	}
	var s string
	if f.null() || json.Unmarshal(f.raw, &s) != nil {
		b.add(name, "must be a string")
		return nil
	}
	return &s
}

// uuidOf decodes a UUID member: unset when absent, cleared when null (only if
// nullable).
func uuidOf[T ~[16]byte](b *bodyFields, name string, f field, nullable bool) work.Nullable[T] {
	switch {
	case !f.set:
		return work.Nullable[T]{}
	case f.null() && nullable:
		return work.Null[T]()
	}
	var s string
	if f.null() || json.Unmarshal(f.raw, &s) != nil {
		b.add(name, "must be a UUID string")
		return work.Nullable[T]{}
	}
	id, err := coditect.ParseID[T](s)
	if err != nil {
		b.add(name, "must be a UUID, like 0190c1b2-7d3e-7a41-9f2c-3b4d5e6f7a8b")
		return work.Nullable[T]{}
	}
	return work.SetTo(id)
}

// timeOf decodes an RFC 3339 date-time member: unset when absent, cleared when null
// (only if nullable).
func (b *bodyFields) timeOf(name string, f field, nullable bool) work.Nullable[time.Time] {
	switch {
	case !f.set:
		return work.Nullable[time.Time]{}
	case f.null() && nullable:
		return work.Null[time.Time]()
	}
	var s string
	if f.null() || json.Unmarshal(f.raw, &s) != nil {
		b.add(name, "must be an RFC 3339 date-time string")
		return work.Nullable[time.Time]{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		b.add(name, "must be an RFC 3339 date-time, like 2030-01-31T17:00:00Z")
		return work.Nullable[time.Time]{}
	}
	return work.SetTo(t)
}

// queryUUID reads an optional UUID query parameter.
func queryUUID[T ~[16]byte](b *bodyFields, q url.Values, name string) *T {
	if !q.Has(name) {
		return nil
	}
	id, err := coditect.ParseID[T](q.Get(name))
	if err != nil {
		b.add(name, "must be a UUID, like 0190c1b2-7d3e-7a41-9f2c-3b4d5e6f7a8b")
		return nil
	}
	return &id
}

// queryTime reads an optional RFC 3339 query parameter.
func (b *bodyFields) queryTime(q url.Values, name string) time.Time {
	if !q.Has(name) {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, q.Get(name))
	if err != nil {
		b.add(name, "must be an RFC 3339 date-time, like 2030-01-31T17:00:00Z")
		return time.Time{}
	}
	return t
}

// query parses the request's query string strictly (r.URL.Query() would silently drop
// a malformed part).
func query(rawQuery string) (url.Values, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, coditect.Errorf(coditect.CodeMalformed, "the query string is malformed")
	}
	return q, nil
}
