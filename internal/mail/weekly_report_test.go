package mail

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWeeklyReportRenders(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer()
	require.NoError(t, err)
	m, err := r.Render(KindWeeklyReport, "ann@example.com", WeeklyReportData{Name: "Ann", OrganizationName: "Acme <b>", Week: "2026-W47",
		FirstDay: "2026-11-16", LastDay: "2026-11-22", TasksCreated: 12, TasksCompleted: 7, ActiveMembers: 3, URL: "https://app.example.com"})
	require.NoError(t, err)
	require.Equal(t, "Acme <b>: your week 2026-W47", m.Subject)
	require.Contains(t, m.Text, "Tasks completed:  7")
	require.Contains(t, m.HTML, "Acme &lt;b&gt;")
	require.NotContains(t, m.HTML, "Acme <b>")
}
