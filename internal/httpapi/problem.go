package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/coditect/coditect/internal/coditect"
)

// problemTypeBase prefixes a problem's code to form its RFC 9457 type URI.
const problemTypeBase = "https://coditect.dev/problems/"

// codeMethodNotAllowed is the code of 405 answers. No service can produce it; it exists so
// that the router's answers go through writeProblem and the status table like any other.
const codeMethodNotAllowed coditect.Code = "method_not_allowed"

// statusFor is the one table from a generic error code (coditect.ErrorKind) to an HTTP
// status. A code it does not know is a bug, so it is a 500.
func statusFor(kind coditect.Code) int {
	switch kind {
	case coditect.CodeInvalid:
		return http.StatusUnprocessableEntity
	case coditect.CodeMalformed:
		return http.StatusBadRequest
	case coditect.CodeNotFound:
		return http.StatusNotFound
	case coditect.CodeConflict, coditect.CodeBillingAlreadySubscribed:
		return http.StatusConflict
	case coditect.CodeUnauthorized:
		return http.StatusUnauthorized
	case coditect.CodeForbidden:
		return http.StatusForbidden
	case coditect.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case coditect.CodeRateLimited:
		return http.StatusTooManyRequests
	case coditect.CodePrecondition:
		return http.StatusPreconditionFailed
	case coditect.CodeUnavailable, coditect.CodeBillingNotConfigured:
		return http.StatusServiceUnavailable
	case coditect.CodeLimitReached:
		return http.StatusPaymentRequired
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case coditect.CodeInternal, coditect.CodeNoTenant:
		return http.StatusInternalServerError
	}
	return http.StatusInternalServerError
}

// problem is an RFC 9457 problem details body with CODITECT's extensions.
type problem struct {
	Type      string                `json:"type"`
	Title     string                `json:"title"`
	Status    int                   `json:"status"`
	Detail    string                `json:"detail"`
	Code      string                `json:"code"`
	RequestID string                `json:"request_id"`
	Errors    []coditect.FieldError `json:"errors,omitempty"`
	Limit     *coditect.Limit       `json:"limit,omitempty"` // billing.limit_reached: the plan limit reached
}

// writeProblem answers err as application/problem+json. The status comes from err's
// kind; the code is err's specific code (e.g. "project.name_taken"). For a 500 nothing of
// err is shown: the cause goes to the access log under the request id instead. Headers a
// problem needs beyond the body (Allow, Retry-After, a specific WWW-Authenticate) must be set
// before calling it; a 401 without WWW-Authenticate gets the plain Bearer challenge.
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	status := statusFor(coditect.ErrorKind(err))
	code := coditect.ErrorCode(err)
	detail := ""
	var fields []coditect.FieldError
	var limit *coditect.Limit
	var e *coditect.Error
	switch {
	case status == http.StatusInternalServerError:
		code = coditect.CodeInternal // a specific code here would hint at internals too
		detail = "An internal error occurred. Quote the request id when reporting it."
	case errors.As(err, &e):
		detail, fields, limit = e.Message, e.Fields, e.Limit
	}
	if detail == "" {
		detail = http.StatusText(status)
	}

	st := stateFrom(r.Context())
	st.errCode = code
	if status >= 500 {
		st.err = err
	}
	body, mErr := json.Marshal(problem{
		Type:      problemTypeBase + string(code),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Code:      string(code),
		RequestID: st.id,
		Errors:    fields,
		Limit:     limit,
	})
	if mErr != nil { // strings and ints only: cannot happen
		panic(mErr)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", `Bearer realm="coditect"`) // RFC 9110 §15.5.2: every 401 names a scheme
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeJSON answers v as application/json with status. It must not be used for 204 or
// 304, which carry no body. A v that cannot be encoded is a programming error: writeJSON
// panics before writing anything, and recoverPanics answers a logged 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Errorf("httpapi: encoding a %d response: %w", status, err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
