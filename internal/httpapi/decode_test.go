package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
)

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	type input struct {
		Name  string             `json:"name"`
		Count int                `json:"count"`
		Owner struct{ Age int }  `json:"owner"`
		ID    coditect.ProjectID `json:"id"`
		Due   time.Time          `json:"due"`
	}
	deps, _, _ := testDeps()
	deps.MaxBodyBytes = 64
	h := serveWith(deps, func(rt *router) {
		rt.handle("POST /things", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var in input
			if decodeJSON(w, r, &in) != nil {
				return
			}
			writeJSON(w, http.StatusOK, in.Name)
		}), testOp("createThing"))
	})

	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
		wantField  string
	}{
		{"malformed", `{"name":`, 400, "malformed", ""},
		{"not json", `name=x`, 400, "malformed", ""},
		{"empty", ``, 400, "malformed", ""},
		{"trailing value", `{"name":"a"} {"name":"b"}`, 400, "malformed", ""},
		{"trailing garbage", `{"name":"a"} x`, 400, "malformed", ""},
		{"not an object", `["a"]`, 400, "malformed", ""},
		{"unknown field", `{"name":"a","nmae":"b"}`, 422, "invalid", "nmae"},
		{"wrong type", `{"name":5}`, 422, "invalid", "name"},
		{"wrong nested type", `{"owner":{"Age":"old"}}`, 422, "invalid", "owner.Age"},
		{"bad id", `{"id":"not-a-uuid"}`, 422, "invalid", ""},
		{"bad time", `{"due":"tomorrow"}`, 422, "invalid", ""},
		{"too large", `{"name":"` + strings.Repeat("a", 100) + `"}`, 413, "too_large", ""},
		{"too large trailing data", `{"name":"a"}` + strings.Repeat(" ", 100), 413, "too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := do(t, h, "POST", "/things", strings.NewReader(tt.body))
			p := requireProblem(t, rec, tt.wantStatus, tt.wantCode)
			if tt.wantField != "" {
				require.Len(t, p.Errors, 1)
				require.Equal(t, tt.wantField, p.Errors[0].Field)
				require.NotEmpty(t, p.Errors[0].Message)
			}
		})
	}

	rec := do(t, h, "POST", "/things", strings.NewReader(`{"name":"ok"}`+"\n"))
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `"ok"`, rec.Body.String())
}

func TestDecodeErrorMessages(t *testing.T) {
	t.Parallel()
	var dst struct {
		Name string `json:"name"`
	}
	err := decodeBody(strings.NewReader(`{"name":true}`), &dst)
	require.Equal(t, coditect.Invalid(coditect.FieldError{Field: "name", Message: "must be a string, not bool"}), err)

	err = decodeBody(strings.NewReader(`{"name":"x"}`), dst) // not a pointer: a bug
	require.Equal(t, coditect.CodeInternal, coditect.ErrorKind(err))
}
