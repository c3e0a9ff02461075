package config

import (
	"bufio"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeDocumentsEveryVariable keeps the README's configuration table and Vars()
// in step: every variable Load reads has exactly one row, and the table lists nothing
// else.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	t.Parallel()
	// A row of the configuration table: "| `NAME` | default | meaning |".
	row := regexp.MustCompile("^\\|\\s*`([^`]+)`\\s*\\|")
	f, err := os.Open("../../README.md")
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })

	// Only the rows of the "## Configuration" section count, so tables elsewhere
	// (the commands table, for one) cannot pass for variables.
	var inSection, sawSection bool
	rows := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "## ") {
			inSection = strings.TrimSpace(strings.TrimPrefix(line, "## ")) == "Configuration"
			sawSection = sawSection || inSection
			continue
		}
		if m := row.FindStringSubmatch(line); inSection && m != nil {
			rows[m[1]]++
		}
	}
	require.NoError(t, sc.Err())
	require.True(t, sawSection, "README.md has no \"## Configuration\" section")

	var documented []string
	for name, n := range rows {
		require.Equal(t, 1, n, "README.md's configuration table lists %s %d times", name, n)
		documented = append(documented, name)
	}
	var want []string
	for _, v := range Vars() {
		want = append(want, v.Name)
	}
	sort.Strings(documented)
	sort.Strings(want)

	for _, name := range want {
		require.Contains(t, documented, name, "README.md's configuration table is missing %s (add a row \"| `%s` | default | meaning |\")", name, name)
	}
	for _, name := range documented {
		require.Contains(t, want, name, "README.md's configuration table lists %s, which config.Vars() does not", name)
	}
}
