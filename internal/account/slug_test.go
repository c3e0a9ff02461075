package account

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSlugFromName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"Acme Corp":                 "acme-corp",
		"  Café Crème — Paris  ":    "cafe-creme-paris",
		"<script>alert(1)</script>": "script-alert-1-script",
		"Ünïcödé & Sons, Ltd.":      "unicode-sons-ltd",
		"a":                         "a",
		"日本":                        "",
		"This Name Is Far Too Long To Be A Slug As It Is": "this-name-is-far-too-long-to-be-a-slug-a",
	} {
		require.Equal(t, want, SlugFromName(name), name)
	}
}

func TestValidSlug(t *testing.T) {
	t.Parallel()
	for s, ok := range map[string]bool{"acme": true, "a-b": true, "ab": false, "-ab": false, "ab-": false, "www": false, "api": false,
		"admin": false, "Acme": false, "a_b": false, "abc'; drop table x; --": false} {
		require.Equal(t, ok, ValidSlug(s), s)
	}
}
