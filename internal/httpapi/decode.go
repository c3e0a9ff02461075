package httpapi

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/coditect/coditect/internal/coditect"
)

// decodeJSON decodes the request body, which must be exactly one JSON value, into dst
// (a pointer). On failure it has already answered with a problem and the handler just
// returns:
//
//	malformed JSON, an empty body, trailing data   400 malformed
//	an unknown field, a value of the wrong type    422 invalid, naming the field
//	a body over Deps.MaxBodyBytes                  413 too_large
//
// Validating the decoded values is the handler's (or service's) job.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	err := decodeBody(r.Body, dst)
	if err != nil {
		writeProblem(w, r, err)
	}
	return err
}

func decodeBody(body io.Reader, dst any) error {
	dec := json.NewDecoder(readErrors{body})
	// Unknown fields are rejected so a misspelt optional field fails loudly instead of
	// being silently ignored.
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
		return nil
	case isTooLarge(err):
		return decodeError(err)
	default:
		return coditect.Errorf(coditect.CodeMalformed, "request body must hold a single JSON value")
	}
}

func decodeError(err error) error {
	var (
		syntaxErr   *json.SyntaxError
		typeErr     *json.UnmarshalTypeError
		readErr     readError
		domainErr   *coditect.Error
		unmarshaler *json.InvalidUnmarshalError
	)
	switch {
	case isTooLarge(err):
		var maxErr *http.MaxBytesError
		errors.As(err, &maxErr)
		return coditect.Errorf(coditect.CodeTooLarge, "request body is larger than %d bytes", maxErr.Limit)
	case errors.As(err, &readErr):
		return &coditect.Error{Code: coditect.CodeMalformed, Message: "request body could not be read", Err: err}
	case errors.Is(err, io.EOF):
		return coditect.Errorf(coditect.CodeMalformed, "request body is empty; send a JSON value")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return coditect.Errorf(coditect.CodeMalformed, "request body ends in the middle of a JSON value")
	case errors.As(err, &syntaxErr):
		return coditect.Errorf(coditect.CodeMalformed, "request body is not valid JSON (at byte %d)", syntaxErr.Offset)
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return coditect.Errorf(coditect.CodeMalformed, "request body must be %s, not %s", jsonKind(typeErr.Type), typeErr.Value)
	case errors.As(err, &typeErr):
		return coditect.Invalid(coditect.FieldError{
			Field:   typeErr.Field,
			Message: fmt.Sprintf("must be %s, not %s", jsonKind(typeErr.Type), typeErr.Value),
		})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for this; the message format is stable.
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return coditect.Invalid(coditect.FieldError{Field: name, Message: "unknown field"})
	case errors.As(err, &domainErr):
		return domainErr // a field's UnmarshalJSON already speaks our language
	case errors.As(err, &unmarshaler):
		return fmt.Errorf("httpapi: decodeJSON needs a non-nil pointer: %w", err) // a bug: 500
	}
	// What is left comes from a field's UnmarshalText/UnmarshalJSON (a bad id or time):
	// about the client's input, and written for it.
	return &coditect.Error{Code: coditect.CodeInvalid, Message: "request body has an invalid value: " + err.Error(), Err: err}
}

func isTooLarge(err error) bool {
	var maxErr *http.MaxBytesError
	return errors.As(err, &maxErr)
}

// readErrors marks errors from reading the body (the client went away, the limit was hit)
// so they are not mistaken for errors about the JSON itself.
type readErrors struct{ r io.Reader }

func (r readErrors) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = readError{err}
	}
	return n, err
}

type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }
func (e readError) Unwrap() error { return e.err }

// jsonKind names what JSON value a Go type takes, for messages to API clients, who know
// JSON and not Go.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "another type"
}
