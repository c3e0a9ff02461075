package work

import (
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// Resource is any of the things work keeps; each has an ETag.
type Resource interface {
	Workspace | Project | Task
}

// ETag returns the strong entity tag of a workspace, project or task, quoted as the
// ETag header wants it: "W1-" (the tag format's version) followed by the unpadded
// base64url SHA-256 of "<id>|<updated_at in Unix nanoseconds>". Every change moves
// updated_at, so every change changes the tag.
func ETag[R Resource](r R) string {
	switch v := any(r).(type) {
	case Workspace:
		return etag(v.ID.String(), v.UpdatedAt)
	case Project:
		return etag(v.ID.String(), v.UpdatedAt)
	case Task:
		return etag(v.ID.String(), v.UpdatedAt)
	}
	panic("unreachable")
}

func etag(id string, updated time.Time) string {
	sum := sha256.Sum256([]byte(id + "|" + strconv.FormatInt(updated.UnixNano(), 10)))
	return `"W1-` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`
}

// ETagMatches reports whether an If-Match header value is satisfied by a resource whose
// current tag is current (RFC 9110 §13.1.1): "*" matches any existing resource,
// otherwise one of the comma-separated tags must equal current under strong comparison
// (a weak tag, W/"…", never matches). An empty header is no precondition and matches.
func ETagMatches(ifMatch, current string) bool {
	ifMatch = strings.TrimSpace(ifMatch)
	if ifMatch == "" || ifMatch == "*" {
		return true
	}
	for tag := range strings.SplitSeq(ifMatch, ",") {
		if strings.TrimSpace(tag) == current {
			return true
		}
	}
	return false
}

// checkIfMatch is the precondition of an update or delete, checked against the row as
// it is inside the write transaction.
func checkIfMatch(ifMatch, current string) error {
	if ETagMatches(ifMatch, current) {
		return nil
	}
	return &coditect.Error{Code: coditect.CodePrecondition,
		Message: "the resource has changed since you read it (If-Match does not match its current ETag); read it again and retry"}
}
