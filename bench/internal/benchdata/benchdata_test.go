package benchdata

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// The ids must be exactly what the pgbench scripts and the README's formulas build.
func TestIDsMatchTheTextFormulas(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 42, 1_000_000, MaxTenants} {
		tail := fmt.Sprint(100_000_000_000 + n)
		for _, c := range []struct {
			got  UUID
			want string
		}{
			{TenantID(n), "b0000001-0000-4000-8000-" + tail},
			{AccountID(n, 3), "b0000002-1003-4000-8000-" + tail},
			{WorkspaceID(n), "b0000003-1001-4000-8000-" + tail},
			{ProjectID(n, 5), "b0000004-1005-4000-8000-" + tail},
			{TaskID(n, 5, 20), "b0000005-1005-1020-8000-" + tail},
			{TaskID(n, MaxSmall, MaxSmall), "b0000005-9999-9999-8000-" + tail},
			{APIKeyID(n), "b0000006-1001-4000-8000-" + tail},
		} {
			require.Equal(t, c.want, c.got.String())
			var back UUID
			require.NoError(t, back.UnmarshalText([]byte(c.want)))
			require.Equal(t, c.got, back)
		}
	}
}

func TestSampleSpreadsOverAllTenants(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1, SampleTenant(0, 1000, 1_000_000))
	require.Equal(t, 999_001, SampleTenant(999, 1000, 1_000_000))
	require.Equal(t, 1000, SampleTenant(999, 1000, 1000))
	seen := map[int]bool{}
	for i := range 1000 {
		n := SampleTenant(i, 1000, 1000)
		require.False(t, seen[n], "tenant %d sampled twice", n)
		seen[n] = true
	}
}

func TestShapeLimits(t *testing.T) {
	t.Parallel()
	require.NoError(t, Shape{Tenants: 1_000_000, Members: 2, Projects: 5, TasksPerProject: 4}.Validate())
	require.Error(t, Shape{Tenants: 0, Members: 2, Projects: 5, TasksPerProject: 4}.Validate())
	require.Error(t, Shape{Tenants: 1, Members: 2, Projects: MaxSmall + 1, TasksPerProject: 4}.Validate())
}
