package account

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// SlugFromName derives an organization slug from its name: lowercase ASCII letters and
// digits joined by single hyphens, accents stripped, at most 40 characters. It may
// return something ValidSlug rejects (too short, reserved); the caller reports that.
func SlugFromName(name string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range norm.NFKD.String(strings.ToLower(name)) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r): // combining accent: drop it, keep the letter
		default:
			hyphen = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	return strings.Trim(b.String()[:min(b.Len(), 40)], "-")
}
