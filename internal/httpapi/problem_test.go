package httpapi

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
)

// TestStatusForEveryCode lists every coditect.Code constant; when one is added to
// internal/coditect/error.go, add it here and to statusFor.
func TestStatusForEveryCode(t *testing.T) {
	t.Parallel()
	want := map[coditect.Code]int{
		coditect.CodeInternal:                 http.StatusInternalServerError,
		coditect.CodeInvalid:                  http.StatusUnprocessableEntity,
		coditect.CodeMalformed:                http.StatusBadRequest,
		coditect.CodeNotFound:                 http.StatusNotFound,
		coditect.CodeConflict:                 http.StatusConflict,
		coditect.CodeUnauthorized:             http.StatusUnauthorized,
		coditect.CodeForbidden:                http.StatusForbidden,
		coditect.CodeTooLarge:                 http.StatusRequestEntityTooLarge,
		coditect.CodeRateLimited:              http.StatusTooManyRequests,
		coditect.CodePrecondition:             http.StatusPreconditionFailed,
		coditect.CodeUnavailable:              http.StatusServiceUnavailable,
		coditect.CodeNoTenant:                 http.StatusInternalServerError,
		codeMethodNotAllowed:                  http.StatusMethodNotAllowed,
		coditect.CodeLimitReached:             http.StatusPaymentRequired,
		coditect.CodeBillingNotConfigured:     http.StatusServiceUnavailable,
		coditect.CodeBillingAlreadySubscribed: http.StatusConflict,
	}
	for code, status := range want {
		require.Equal(t, status, statusFor(code), code)
	}
	for _, code := range declaredCodes(t) {
		require.Contains(t, want, code, "internal/coditect declares %q: add it to statusFor and this test", code)
	}
	require.Equal(t, http.StatusInternalServerError, statusFor("no.such_code"), "an unknown code is a bug")

	// Every status the table can produce has a documented problem response.
	for code := range want {
		if code != codeMethodNotAllowed {
			require.Contains(t, problemStatuses(), statusFor(code), code)
		}
	}
}

func TestWriteProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantDetail string
	}{
		{"specific code maps through its kind",
			&coditect.Error{Code: "project.name_taken", Kind: coditect.CodeConflict, Message: "a project with that name exists"},
			http.StatusConflict, "project.name_taken", "a project with that name exists"},
		{"wrapped", fmt.Errorf("creating project: %w", coditect.Errorf(coditect.CodeNotFound, "no such workspace")),
			http.StatusNotFound, "not_found", "no such workspace"},
		{"plain error is internal and hidden", errors.New("pq: password authentication failed for user coditect"),
			http.StatusInternalServerError, "internal", "An internal error occurred. Quote the request id when reporting it."},
		{"internal code hides message and code", &coditect.Error{Code: coditect.CodeNoTenant, Message: "no tenant in context"},
			http.StatusInternalServerError, "internal", "An internal error occurred. Quote the request id when reporting it."},
		{"cause is never shown", &coditect.Error{Code: coditect.CodeUnavailable, Message: "the database is unavailable", Err: errors.New("dial 10.0.0.7:5432")},
			http.StatusServiceUnavailable, "unavailable", "the database is unavailable"},
		{"empty message falls back to the status text", &coditect.Error{Code: coditect.CodeForbidden},
			http.StatusForbidden, "forbidden", "Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			deps, _, logs := testDeps()
			h := serveWith(deps, func(rt *router) {
				rt.handle("GET /x", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					writeProblem(w, r, tt.err)
				}), testOp("x"))
			})
			rec := do(t, h, "GET", "/x", nil)
			p := requireProblem(t, rec, tt.wantStatus, tt.wantCode)
			require.Equal(t, tt.wantDetail, p.Detail)
			require.Nil(t, p.Errors)
			require.NotContains(t, rec.Body.String(), "password")
			require.NotContains(t, rec.Body.String(), "10.0.0.7")
			line := logs.lines(t, "http request")[0]
			require.Equal(t, tt.wantCode, line["error_code"])
			if tt.wantStatus >= 500 {
				require.Equal(t, tt.err.Error(), line["error"], "5xx causes are logged with the request id")
				require.Equal(t, p.RequestID, line["request_id"])
			} else {
				require.NotContains(t, line, "error")
			}
		})
	}
}

func TestWriteProblemFields(t *testing.T) {
	t.Parallel()
	rec := do(t, serveWith(Deps{}, func(rt *router) {
		rt.handle("GET /x", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, r, coditect.Invalid(
				coditect.FieldError{Field: "name", Message: "must not be empty"},
				coditect.FieldError{Field: "slug", Message: "must be lowercase"}))
		}), testOp("x"))
	}), "GET", "/x", nil)
	p := requireProblem(t, rec, http.StatusUnprocessableEntity, "invalid")
	require.Equal(t, []coditect.FieldError{
		{Field: "name", Message: "must not be empty"},
		{Field: "slug", Message: "must be lowercase"},
	}, p.Errors)
}

func TestWriteJSONUnencodableIsA500(t *testing.T) {
	t.Parallel()
	deps, _, logs := testDeps()
	h := serveWith(deps, func(rt *router) {
		rt.handle("GET /x", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"f": func() {}})
		}), testOp("x"))
	})
	requireProblem(t, do(t, h, "GET", "/x", nil), http.StatusInternalServerError, "internal")
	require.Len(t, logs.lines(t, "panic serving request"), 1)
}

// declaredCodes reads internal/coditect's source for every constant of type Code, so a
// code added there cannot miss the status table unnoticed.
func declaredCodes(t *testing.T) []coditect.Code {
	t.Helper()
	files, err := filepath.Glob("../coditect/*.go")
	require.NoError(t, err)
	var codes []coditect.Code
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				if typ, ok := vs.Type.(*ast.Ident); !ok || typ.Name != "Code" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					require.True(t, ok, "Code constants are string literals")
					s, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					codes = append(codes, coditect.Code(s))
				}
			}
		}
	}
	require.GreaterOrEqual(t, len(codes), 12)
	return codes
}
