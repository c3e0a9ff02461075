package identity

import (
	_ "embed"
	"strings"
	"unicode/utf8"
)

// MinPasswordLength follows NIST SP 800-63B: length beats composition rules.
const MinPasswordLength = 10

// maxPasswordBytes bounds argon2id input so a huge "password" cannot burn CPU.
const maxPasswordBytes = 1024

//go:embed common_passwords.txt
var commonPasswordList string

// PasswordPolicy rejects short, oversized and commonly used passwords.
type PasswordPolicy struct{ common map[string]bool }

// NewPasswordPolicy loads the embedded list of common passwords.
func NewPasswordPolicy() *PasswordPolicy {
	p := &PasswordPolicy{common: map[string]bool{}}
	for _, line := range strings.Split(commonPasswordList, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			p.common[strings.ToLower(line)] = true
		}
	}
	return p
}

// Check returns a message for the field error, or "" when the password is acceptable.
func (p *PasswordPolicy) Check(password, email string) string {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return "must be at least 10 characters"
	case len(password) > maxPasswordBytes:
		return "must be at most 1024 bytes"
	case p.common[strings.ToLower(password)]:
		return "is too common; choose another"
	case email != "" && strings.EqualFold(password, email), email != "" && strings.EqualFold(password, strings.Split(email, "@")[0]):
		return "must not be your email address"
	}
	return ""
}
