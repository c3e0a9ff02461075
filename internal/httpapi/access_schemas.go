package httpapi

import "maps"

// accessSchemas are the named schemas of identity and access: accounts, sessions,
// organizations, members, invitations and API keys. Request bodies forbid other
// properties, as decodeJSON does.
func accessSchemas() map[string]jsonSchema {
	str := jsonSchema{"type": "string"}
	uuid := jsonSchema{"type": "string", "format": "uuid"}
	optUUID := jsonSchema{"type": []string{"string", "null"}, "format": "uuid"}
	dateTime := jsonSchema{"type": "string", "format": "date-time"}
	optDateTime := jsonSchema{"type": []string{"string", "null"}, "format": "date-time"}
	session := jsonSchema{"enum": []string{"cookie"}, "description": `"cookie" also starts a browser session: the answer sets the ` +
		cookieSession + ` (HttpOnly) and ` + cookieCSRF + ` cookies and carries csrf_token. Such a request must have Content-Type: application/json.`}
	password := jsonSchema{"type": "string", "minLength": 10, "description": "At least 10 characters, not a common password, not the email address."}
	object := func(required []string, props map[string]jsonSchema) jsonSchema {
		s := jsonSchema{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	request := func(required []string, props map[string]jsonSchema) jsonSchema {
		s := object(required, props)
		s["additionalProperties"] = false
		return s
	}
	pageOf := func(item string) jsonSchema {
		return object([]string{"data", "next_cursor"}, map[string]jsonSchema{
			"data":        {"type": "array", "items": ref(item)},
			"next_cursor": {"type": []string{"string", "null"}, "description": "Pass as ?cursor= for the next page; null on the last page."},
		})
	}
	tokenProps := map[string]jsonSchema{
		"access_token":  {"type": "string", "description": "A short-lived JWT: send it as Authorization: Bearer <token>."},
		"refresh_token": {"type": "string", "description": "Exchanges once for a new pair at POST /v1/auth/refresh; reusing one ends the session."},
		"token_type":    {"const": "Bearer"},
		"expires_in":    {"type": "integer", "minimum": 0, "description": "Seconds the access token lives."},
		"csrf_token":    {"type": "string", "description": "With session \"cookie\": the value to send in " + headerCSRF + " on unsafe requests."},
	}
	tokenRequired := []string{"access_token", "refresh_token", "token_type", "expires_in"}
	withTokens := func(required []string, props map[string]jsonSchema) jsonSchema {
		all := maps.Clone(tokenProps)
		maps.Copy(all, props)
		return object(append(required, tokenRequired...), all)
	}

	return map[string]jsonSchema{
		"Role": {"enum": []string{"viewer", "member", "admin", "owner"},
			"description": "Lowest to highest: viewer reads, member writes work items, admin manages members, invitations, API keys, audit logs and exports, owner also billing and deletion."},
		"Account": object([]string{"id", "email", "name", "email_verified_at", "created_at"}, map[string]jsonSchema{
			"id": uuid, "email": str, "name": str, "email_verified_at": optDateTime, "created_at": dateTime,
		}),
		"Organization": object([]string{"id", "slug", "name", "created_at", "updated_at"}, map[string]jsonSchema{
			"id":         {"type": "string", "format": "uuid", "description": "Also the tenant id."},
			"slug":       str,
			"name":       str,
			"domain":     {"type": "string", "description": "{slug}.{base domain}"},
			"created_at": dateTime,
			"updated_at": dateTime,
		}),
		"OrganizationRef": object([]string{"id", "slug", "name"}, map[string]jsonSchema{"id": uuid, "slug": str, "name": str}),
		"MyMembership": object([]string{"organization", "role"}, map[string]jsonSchema{
			"organization": ref("OrganizationRef"), "role": ref("Role"),
		}),
		"MyMembershipPage": pageOf("MyMembership"),
		"Me": object([]string{"account", "mfa_enabled", "memberships"}, map[string]jsonSchema{
			"account":     ref("Account"),
			"mfa_enabled": {"type": "boolean"},
			"memberships": {"type": "array", "items": ref("MyMembership")},
		}),
		"Tokens": withTokens(nil, nil),
		"SignupRequest": request([]string{"email", "password", "name", "organization_name"}, map[string]jsonSchema{
			"email":             str,
			"password":          password,
			"name":              {"type": "string", "description": "The person's name."},
			"organization_name": str,
			"organization_slug": {"type": "string", "description": "3–40 lowercase letters, digits and inner hyphens; derived from the name when left out."},
			"session":           session,
		}),
		"SignupResult": withTokens([]string{"account", "organization"}, map[string]jsonSchema{
			"account": ref("Account"), "organization": ref("Organization"),
		}),
		"LoginRequest": request([]string{"email", "password"}, map[string]jsonSchema{
			"email":     str,
			"password":  str,
			"totp_code": {"type": "string", "description": "The authenticator's 6-digit code, or an unused recovery code; needed when MFA is on."},
			"session":   session,
		}),
		"RefreshRequest": request([]string{"refresh_token"}, map[string]jsonSchema{"refresh_token": str}),
		"Session": object([]string{"id", "user_agent", "ip", "created_at", "last_used_at", "expires_at", "current"}, map[string]jsonSchema{
			"id":           uuid,
			"user_agent":   str,
			"ip":           {"type": []string{"string", "null"}},
			"created_at":   dateTime,
			"last_used_at": dateTime,
			"expires_at":   dateTime,
			"current":      {"type": "boolean", "description": "This request's own session."},
		}),
		"SessionPage": pageOf("Session"),
		"SecurityEvent": object([]string{"id", "event", "ip", "user_agent", "created_at"}, map[string]jsonSchema{
			"id":         uuid,
			"event":      {"type": "string", "examples": []string{"login.succeeded", "login.failed", "mfa.enabled", "password.reset"}},
			"ip":         {"type": []string{"string", "null"}},
			"user_agent": str,
			"created_at": dateTime,
		}),
		"SecurityEventPage": pageOf("SecurityEvent"),
		"MFAEnrollment": object([]string{"secret", "otpauth_url"}, map[string]jsonSchema{
			"secret":      {"type": "string", "description": "The base32 TOTP secret, for typing into an authenticator."},
			"otpauth_url": {"type": "string", "description": "The otpauth:// URL, for QR codes."},
			"qr_png":      {"type": "string", "contentEncoding": "base64", "contentMediaType": "image/png", "description": "The URL as a QR code image."},
		}),
		"CodeRequest":   request([]string{"code"}, map[string]jsonSchema{"code": {"type": "string", "description": "A current TOTP code (or, to turn MFA off, a recovery code)."}}),
		"RecoveryCodes": object([]string{"recovery_codes"}, map[string]jsonSchema{"recovery_codes": {"type": "array", "items": str, "description": "Single-use codes, shown this once."}}),
		"TokenRequest":  request([]string{"token"}, map[string]jsonSchema{"token": {"type": "string", "description": "The token from the emailed link."}}),
		"EmailRequest":  request([]string{"email"}, map[string]jsonSchema{"email": str}),
		"PasswordResetConfirmRequest": request([]string{"token", "password"}, map[string]jsonSchema{
			"token": {"type": "string", "description": "The token from the emailed link."}, "password": password,
		}),
		"CreateOrganizationRequest": request([]string{"name"}, map[string]jsonSchema{
			"name": str,
			"slug": {"type": "string", "description": "3–40 lowercase letters, digits and inner hyphens; derived from the name when left out."},
		}),
		"Membership": object([]string{"organization_id", "account_id", "role", "created_at"}, map[string]jsonSchema{
			"organization_id": uuid, "account_id": uuid, "role": ref("Role"), "created_at": dateTime,
			"name":  {"type": "string", "description": "The member's name (member lists only)."},
			"email": {"type": "string", "description": "The member's email address (member lists only)."},
		}),
		"MembershipPage": pageOf("Membership"),
		"RoleRequest":    request([]string{"role"}, map[string]jsonSchema{"role": ref("Role")}),
		"InvitationRequest": request([]string{"email", "role"}, map[string]jsonSchema{
			"email": str, "role": {"$ref": "#/components/schemas/Role", "description": "Only an owner may invite owners."},
		}),
		"Invitation": object([]string{"id", "email", "role", "invited_by", "created_at", "expires_at", "accepted_at", "accepted_by", "revoked_at"}, map[string]jsonSchema{
			"id": uuid, "email": str, "role": ref("Role"), "invited_by": optUUID, "created_at": dateTime, "expires_at": dateTime,
			"accepted_at": optDateTime, "accepted_by": optUUID, "revoked_at": optDateTime,
		}),
		"InvitationPage": pageOf("Invitation"),
		"PendingInvitation": object([]string{"organization", "email", "role", "expires_at"}, map[string]jsonSchema{
			"organization": ref("OrganizationRef"), "email": str, "role": ref("Role"), "expires_at": dateTime,
		}),
		"AcceptInvitationRequest": request(nil, map[string]jsonSchema{
			"name":     {"type": "string", "description": "Without an account: the new account's name."},
			"password": password,
			"session":  session,
		}),
		"AcceptedInvitation": object([]string{"organization", "role"}, func() map[string]jsonSchema {
			props := maps.Clone(tokenProps)
			props["organization"] = ref("Organization")
			props["role"] = ref("Role")
			props["account"] = jsonSchema{"$ref": "#/components/schemas/Account", "description": "The account created by this accept (with the tokens of its first session)."}
			return props
		}()),
		"APIKeyRequest": request([]string{"name", "role"}, map[string]jsonSchema{
			"name": str, "role": {"$ref": "#/components/schemas/Role", "description": "At most the creator's own role."},
		}),
		"APIKey": object([]string{"id", "name", "prefix", "role", "created_by", "created_at", "last_used_at", "expires_at", "revoked_at"}, map[string]jsonSchema{
			"id": uuid, "name": str, "prefix": {"type": "string", "description": "The public part of the key, to recognize it."},
			"role": ref("Role"), "created_by": optUUID, "created_at": dateTime, "last_used_at": optDateTime,
			"expires_at": optDateTime, "revoked_at": optDateTime,
		}),
		"CreatedAPIKey": {"allOf": []jsonSchema{ref("APIKey"), object([]string{"secret"}, map[string]jsonSchema{
			"secret": {"type": "string", "description": "The whole key (cdk_…), shown this once: send it as Authorization: Bearer <key>."},
		})}},
		"APIKeyPage": pageOf("APIKey"),
		"OAuthClientRequest": request([]string{"name"}, map[string]jsonSchema{
			"name": {"type": "string", "minLength": 1, "maxLength": 200},
			"redirect_uris": {"type": "array", "maxItems": 20, "items": jsonSchema{"type": "string", "format": "uri", "maxLength": 2000},
				"description": "Where the authorization code flow may return, compared exactly (a loopback http URI matches any port). Each is https, or http on 127.0.0.1, [::1] or localhost, with no fragment. At least one is required for authorization_code."},
			"grant_types": {"type": "array", "items": jsonSchema{"enum": []string{"authorization_code", "refresh_token", "client_credentials"}},
				"description": "Default: authorization_code and refresh_token. refresh_token needs authorization_code; a public client cannot use client_credentials."},
			"scopes": {"type": "array", "items": str,
				"description": "The scopes the client may request: openid, profile, email, offline_access, api:read, api:write. Default: openid, profile, email and offline_access for code-flow clients, none for client-credentials-only ones. " +
					"A client-credentials token acts in this organization as a member with api:write, as a viewer otherwise."},
			"public": {"type": "boolean", "default": false, "description": "A client that cannot keep a secret (native or browser app): it gets no secret and must use PKCE."},
		}),
		"OAuthClient": object([]string{"id", "organization_id", "client_id", "name", "redirect_uris", "grant_types", "scopes", "public", "created_at", "revoked_at"}, map[string]jsonSchema{
			"id":              uuid,
			"organization_id": uuid,
			"client_id":       {"type": "string", "description": "The public identifier the client sends to /oauth2/auth and /oauth2/token (oc_…)."},
			"name":            str,
			"redirect_uris":   {"type": "array", "items": str},
			"grant_types":     {"type": "array", "items": jsonSchema{"enum": []string{"authorization_code", "refresh_token", "client_credentials"}}},
			"scopes":          {"type": "array", "items": str},
			"public":          {"type": "boolean"},
			"created_at":      dateTime,
			"revoked_at":      optDateTime,
		}),
		"CreatedOAuthClient": {"allOf": []jsonSchema{ref("OAuthClient"), object([]string{"client_secret"}, map[string]jsonSchema{
			"client_secret": {"type": []string{"string", "null"}, "description": "The client secret (ocs_…), shown this once; null for a public client. Send it with HTTP Basic (client_secret_basic) to /oauth2/token."},
		})}},
		"OAuthClientPage": pageOf("OAuthClient"),
		"JWKS": object([]string{"keys"}, map[string]jsonSchema{
			"keys": {"type": "array", "items": object([]string{"kty", "kid", "alg", "use"}, map[string]jsonSchema{
				"kty": str, "kid": str, "alg": {"enum": []string{"ES256", "EdDSA"}}, "use": {"const": "sig"},
			})},
		}),
	}
}
