package postgres_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/querycheck"
)

// crossTenantExceptions names the statements allowed to break the tenant-scoping rule,
// each with the reason that makes it safe. Keep it short: every entry is a statement
// that can read or write more than one tenant's rows. The test fails when an entry
// names a statement that no longer exists or no longer needs the exception.
var crossTenantExceptions = map[string]string{
	"IdempotencyKeyPurgeExpired": "system purge of expired rows across tenants; RLS policy purge_expired_* allows only expired rows while app.maintenance = 'purge_expired'",
}

// statement is one SQL statement the application runs, as sqlc generated it.
type statement struct {
	name string
	sql  string
	file string
}

// TestEveryQueryIsTenantScoped enforces the ARCHITECTURE rule "every statement on a
// tenant table filters tenant_id = $n with a bound parameter, and every join between
// tenant tables equates their tenant_id" on every statement the application can run.
// It reads the generated code rather than queries/*.sql because that is the text sent
// to the server, with sqlc's macros already expanded.
func TestEveryQueryIsTenantScoped(t *testing.T) {
	t.Parallel()

	stmts := generatedStatements(t, filepath.Join("internal", "dbsqlc"))
	require.NotEmpty(t, stmts, "found no statements in internal/dbsqlc: the test would prove nothing")

	// Generated code that lags behind queries/*.sql would be checked instead of the
	// real statements; say so here rather than let it pass silently.
	generated := map[string]bool{}
	for _, s := range stmts {
		generated[s.name] = true
	}
	sourced := sourceQueryNames(t, "queries")
	require.Equal(t, sortedKeys(sourced), sortedKeys(generated),
		"queries/*.sql and internal/dbsqlc disagree on the statements; run sqlc generate")

	manifest := map[string]postgres.Table{}
	tenantTables := map[string]string{}
	for _, tbl := range postgres.Manifest() {
		manifest[tbl.Name] = tbl
		if tbl.Class == postgres.DistributedByTenant {
			require.NotEmpty(t, tbl.Column, "tenant table %s has no tenant column in the manifest", tbl.Name)
			tenantTables[tbl.Name] = tbl.Column
		}
	}
	require.NotEmpty(t, tenantTables, "the manifest lists no tenant tables")

	needsException := map[string]bool{}
	for _, s := range stmts {
		t.Run(s.name, func(t *testing.T) {
			// A table missing from the manifest would be treated as not a tenant table
			// and never checked; classifying it is part of adding it.
			tables, err := querycheck.Tables(s.sql)
			require.NoError(t, err, "%s (%s) does not parse", s.name, s.file)
			for _, name := range tables {
				_, ok := manifest[name]
				require.True(t, ok, "%s (%s) uses table %s, which postgres.Manifest() does not list", s.name, s.file, name)
			}

			problems, err := querycheck.Check(s.sql, tenantTables)
			require.NoError(t, err)
			if len(problems) == 0 {
				return
			}
			needsException[s.name] = true
			if _, ok := crossTenantExceptions[s.name]; ok {
				return
			}
			msgs := make([]string, len(problems))
			for i, p := range problems {
				msgs[i] = "  - " + p.String()
			}
			t.Errorf("%s (%s) is not tenant-scoped:\n%s\nstatement:\n%s", s.name, s.file, strings.Join(msgs, "\n"), s.sql)
		})
	}

	for name, reason := range crossTenantExceptions {
		require.NotEmpty(t, strings.TrimSpace(reason), "exception %s must give its reason", name)
		require.True(t, generated[name], "crossTenantExceptions names %s, which is no longer a statement; remove it", name)
		require.True(t, needsException[name], "%s is tenant-scoped now; remove it from crossTenantExceptions", name)
	}
}

// generatedStatements returns every sqlc statement in dir: the string constants whose
// value starts with "-- name: ".
func generatedStatements(t *testing.T, dir string) []statement {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.sql.go"))
	require.NoError(t, err)
	fset := token.NewFileSet()
	seen := map[string]string{}
	var out []statement
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				for _, v := range spec.(*ast.ValueSpec).Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					sql, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					if !strings.HasPrefix(sql, "-- name: ") {
						continue
					}
					fields := strings.Fields(strings.SplitN(sql, "\n", 2)[0])
					require.GreaterOrEqual(t, len(fields), 3, "malformed sqlc header in %s", file)
					name := fields[2]
					if prev, dup := seen[name]; dup {
						t.Fatalf("statement %s is generated twice (%s and %s)", name, prev, file)
					}
					seen[name] = file
					out = append(out, statement{name: name, sql: sql, file: filepath.Base(file)})
				}
			}
		}
	}
	return out
}

var sqlcHeader = regexp.MustCompile(`(?m)^--\s*name:\s*(\S+)\s+:\S+`)

// sourceQueryNames returns the names in the "-- name: X :kind" headers of dir/*.sql.
func sourceQueryNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no query files in %s", dir)
	names := map[string]bool{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, m := range sqlcHeader.FindAllStringSubmatch(string(b), -1) {
			require.False(t, names[m[1]], "query %s is declared twice", m[1])
			names[m[1]] = true
		}
	}
	return names
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
