// Package benchdata is what the load harness's programs share: the deterministic ids
// of the seeded dataset and the keys file the seeder writes for the load generator.
//
// Every id is a UUID whose hex digits are decimal digits computed from small integers,
// so that SQL, shell and pgbench scripts can build the same id with plain text
// concatenation (pgbench has integer arithmetic but no string or hash functions, and
// SET LOCAL app.tenant_id takes a literal, never a bind parameter). Tenant n (1-based):
//
//	tenant          b0000001-0000-4000-8000-{100000000000+n}
//	account m       b0000002-{1000+m}-4000-8000-{100000000000+n}
//	workspace       b0000003-1001-4000-8000-{100000000000+n}
//	project p       b0000004-{1000+p}-4000-8000-{100000000000+n}
//	task k of p     b0000005-{1000+p}-{1000+k}-8000-{100000000000+n}
//	API key         b0000006-1001-4000-8000-{100000000000+n}
//
// so n ≤ 899,999,999,999 and m, p, k ≤ 8,999. Like the application's UUIDv7 ids, they
// sort in creation order.
package benchdata

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/google/uuid"
)

// UUID is a UUID's 16 bytes.
type UUID [16]byte

// String is the canonical textual form.
func (u UUID) String() string {
	const hexd = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexd[x>>4], hexd[x&0xf]
		j += 2
	}
	return string(b[:])
}

// MarshalText implements encoding.TextMarshaler.
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (u *UUID) UnmarshalText(b []byte) error {
	id, err := uuid.ParseBytes(b)
	if err != nil {
		return err
	}
	*u = UUID(id)
	return nil
}

// Limits of the id scheme.
const (
	MaxTenants = 899_999_999_999
	MaxSmall   = 8_999 // members, projects per tenant, tasks per project
)

// bcd writes v's last 2*len(dst) decimal digits into dst, two per byte, so that the
// UUID's hex digits read as v in decimal.
func bcd(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		lo := v % 10
		v /= 10
		hi := v % 10
		v /= 10
		dst[i] = byte(hi<<4 | lo)
	}
}

func build(kind byte, g2, g3 uint64, n int) UUID {
	var u UUID
	u[0], u[3] = 0xb0, kind
	if g2 == 0 {
		u[4], u[5] = 0, 0
	} else {
		bcd(u[4:6], 1000+g2)
	}
	if g3 == 0 {
		u[6], u[7] = 0x40, 0
	} else {
		bcd(u[6:8], 1000+g3)
	}
	u[8] = 0x80
	bcd(u[10:16], 100_000_000_000+uint64(n))
	return u
}

// TenantID is tenant n's id (its organization id).
func TenantID(n int) UUID { return build(1, 0, 0, n) }

// AccountID is the id of tenant n's member m (1-based; member 1 is the owner).
func AccountID(n, m int) UUID { return build(2, uint64(m), 0, n) }

// WorkspaceID is tenant n's one workspace.
func WorkspaceID(n int) UUID { return build(3, 1, 0, n) }

// ProjectID is tenant n's project p (1-based).
func ProjectID(n, p int) UUID { return build(4, uint64(p), 0, n) }

// TaskID is task k (1-based) of tenant n's project p.
func TaskID(n, p, k int) UUID { return build(5, uint64(p), uint64(k), n) }

// APIKeyID is the id of tenant n's API key (sampled tenants only).
func APIKeyID(n int) UUID { return build(6, 1, 0, n) }

// Slug is tenant n's organization slug.
func Slug(n int) string { return "bench-" + strconv.Itoa(n) }

// SampleTenant is the i-th (0-based) of k tenants spread evenly over 1..n; pgbench
// computes the same with `1 + (:i * :ntenants) / :keys`.
func SampleTenant(i, k, n int) int { return 1 + int(int64(i)*int64(n)/int64(k)) }

// Shape is the dataset's size.
type Shape struct {
	Tenants         int `json:"tenants"`
	Members         int `json:"members_per_tenant"`
	Projects        int `json:"projects_per_tenant"`
	TasksPerProject int `json:"tasks_per_project"`
}

// Validate checks the shape against the id scheme.
func (s Shape) Validate() error {
	switch {
	case s.Tenants < 1 || s.Tenants > MaxTenants:
		return fmt.Errorf("tenants must be 1 to %d", MaxTenants)
	case s.Members < 1 || s.Members > MaxSmall:
		return fmt.Errorf("members must be 1 to %d", MaxSmall)
	case s.Projects < 1 || s.Projects > MaxSmall:
		return fmt.Errorf("projects must be 1 to %d", MaxSmall)
	case s.TasksPerProject < 1 || s.TasksPerProject > MaxSmall:
		return fmt.Errorf("tasks per project must be 1 to %d", MaxSmall)
	}
	return nil
}

// Key is one sampled tenant with its API key (role member) and some of its ids.
type Key struct {
	N          int    `json:"n"`
	TenantID   UUID   `json:"tenant_id"`
	Key        string `json:"key"`
	ProjectIDs []UUID `json:"project_ids"`
	TaskIDs    []UUID `json:"task_ids"`
}

// KeysFile is what the seeder writes and the load generator reads.
type KeysFile struct {
	Shape Shape `json:"shape"`
	Keys  []Key `json:"keys"`
}

// WriteKeys writes f to path (mode 0600: it holds working API keys).
func WriteKeys(path string, f KeysFile) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// ReadKeys reads a keys file.
func ReadKeys(path string) (KeysFile, error) {
	var f KeysFile
	b, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Keys) == 0 {
		return f, fmt.Errorf("%s: no keys", path)
	}
	return f, nil
}
