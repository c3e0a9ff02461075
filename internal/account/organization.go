package account

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coditect/coditect/internal/coditect"
)

// OrganizationTx is what changing an organization itself needs inside its
// transaction; TenantTx includes it.
type OrganizationTx interface {
	// OrganizationGetForUpdate reads the transaction's organization and locks it until
	// the transaction ends; not found once it is deleted.
	OrganizationGetForUpdate(ctx context.Context) (Organization, error)
	// OrganizationRename sets the organization's name (and updated_at).
	OrganizationRename(ctx context.Context, name string) (Organization, error)
}

// OrganizationETag returns an organization's strong entity tag, quoted as the ETag
// header wants it: "O1-" followed by the unpadded base64url SHA-256 of
// "<id>|<updated_at in Unix nanoseconds>". Every change moves updated_at.
func OrganizationETag(o Organization) string {
	sum := sha256.Sum256([]byte(o.ID.String() + "|" + strconv.FormatInt(o.UpdatedAt.UnixNano(), 10)))
	return `"O1-` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`
}

// etagMatches reports whether an If-Match header value is met by current (RFC 9110
// §13.1.1): empty is no precondition, "*" matches, otherwise one of the
// comma-separated tags must equal current (strong comparison).
func etagMatches(ifMatch, current string) bool {
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

func preconditionFailed() error {
	return &coditect.Error{Code: coditect.CodePrecondition,
		Message: "the organization has changed since you read it (If-Match does not match its current ETag); read it again and retry"}
}

// RenameOrganization changes the context organization's name (admin or higher). A
// non-empty ifMatch must match the organization's ETag as it is inside the write
// transaction, or nothing changes (precondition failed). Renaming to the current name
// writes nothing. The change's audit row is "organization.update" with the new and
// previous name.
func (s *Service) RenameOrganization(ctx context.Context, name, ifMatch string) (Organization, error) {
	if err := coditect.Authorize(actorOf(ctx), coditect.ActUpdateOrganization); err != nil {
		return Organization{}, err
	}
	name = strings.TrimSpace(name)
	switch {
	case !utf8.ValidString(name):
		return Organization{}, coditect.Invalid(coditect.FieldError{Field: "name", Message: "must be valid UTF-8"})
	case name == "" || utf8.RuneCountInString(name) > 200:
		return Organization{}, coditect.Invalid(coditect.FieldError{Field: "name", Message: "must be 1 to 200 characters"})
	case strings.ContainsFunc(name, unicode.IsControl):
		return Organization{}, coditect.Invalid(coditect.FieldError{Field: "name", Message: "must not contain control characters"})
	}
	var out Organization
	err := s.store.InTenantTx(ctx, func(tx TenantTx) error {
		cur, err := tx.OrganizationGetForUpdate(ctx)
		if err != nil {
			return err
		}
		if !etagMatches(ifMatch, OrganizationETag(cur)) {
			return preconditionFailed()
		}
		if cur.Name == name {
			out = cur
			return nil
		}
		if out, err = tx.OrganizationRename(ctx, name); err != nil {
			return err
		}
		return auditRow(ctx, tx, "organization.update", "organization", cur.ID.String(), map[string]string{"name": name, "previous_name": cur.Name})
	})
	if err != nil {
		return Organization{}, err
	}
	return out, nil
}
