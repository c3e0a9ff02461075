package coditect

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code that clients can rely on. The HTTP
// adapter maps each code to a status in one table.
type Code string

// The platform's error codes. Feature packages add their own specific codes (e.g.
// "project.name_taken"); the HTTP layer maps a specific code by its generic Kind.
const (
	CodeInternal     Code = "internal"        // a bug or an unexpected failure; details are logged, not shown
	CodeInvalid      Code = "invalid"         // a field failed validation
	CodeMalformed    Code = "malformed"       // the request could not be parsed
	CodeNotFound     Code = "not_found"       // unknown resource, or another tenant's
	CodeConflict     Code = "conflict"        // the change conflicts with existing state
	CodeUnauthorized Code = "unauthenticated" // no or bad credentials
	CodeForbidden    Code = "forbidden"       // authenticated, but the role is too low
	CodeTooLarge     Code = "too_large"       // body over the limit
	CodeRateLimited  Code = "rate_limited"    // slow down
	CodePrecondition Code = "precondition_failed"
	CodeUnavailable  Code = "unavailable"    // a dependency is down
	CodeNoTenant     Code = "tenant.missing" // tenant-scoped work attempted without a tenant: a bug, fails closed
)

// FieldError describes one invalid input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the one error type that crosses package boundaries. Code decides the HTTP
// status; Kind, when set, is the generic code a specific Code belongs to (e.g. Code
// "project.name_taken" has Kind CodeConflict). Message is safe to show to the caller.
type Error struct {
	Code    Code
	Kind    Code
	Message string
	Fields  []FieldError
	Limit   *Limit // the plan limit a CodeLimitReached error reached; shown to callers
	Err     error  // the underlying cause, for logs; never shown to callers
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation error listing the bad fields.
func Invalid(fields ...FieldError) *Error {
	return &Error{Code: CodeInvalid, Message: "one or more fields are invalid", Fields: fields}
}

// ErrorCode returns the code of err: its *Error's Code, or CodeInternal for anything else.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorKind returns the generic code of err: Kind if set, else Code, else CodeInternal.
func ErrorKind(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		if e.Kind != "" {
			return e.Kind
		}
		return e.Code
	}
	return CodeInternal
}

// IsNotFound reports whether err means "no such resource (in this tenant)".
func IsNotFound(err error) bool { return ErrorKind(err) == CodeNotFound }

// Billing codes: a plan limit reached is its own kind (HTTP 402); billing without a
// payment provider configured is a kind of unavailable.
const (
	CodeLimitReached         Code = "billing.limit_reached"
	CodeBillingNotConfigured Code = "billing.not_configured"
	// CodeBillingAlreadySubscribed (Kind CodeConflict): checkout while a subscription is
	// live; plan and seat changes go through the portal.
	CodeBillingAlreadySubscribed Code = "billing.already_subscribed"
)

// Quota names a limit a plan sets.
type Quota string

// The quotas that are enforced where they bite.
const (
	QuotaMembers  Quota = "max_members"
	QuotaProjects Quota = "max_projects"
)

// Limit is one quota of the tenant's plan: Max is how many it allows, negative for no
// limit. It travels in a limit_reached problem so that clients can say which limit.
type Limit struct {
	Quota Quota  `json:"name"`
	Max   int64  `json:"max"`
	Plan  string `json:"plan"`
}

// Unlimited reports whether the limit allows any number.
func (l Limit) Unlimited() bool { return l.Max < 0 }

// Check returns a limit_reached error when one more would exceed the limit, given
// that current already exist.
func (l Limit) Check(current int64) error {
	if l.Unlimited() || current < l.Max {
		return nil
	}
	return &Error{Code: CodeLimitReached, Limit: &l,
		Message: fmt.Sprintf("the %s plan allows at most %d (%s); upgrade the plan to add more", l.Plan, l.Max, l.Quota)}
}
