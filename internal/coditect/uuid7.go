package coditect

import (
	"crypto/rand"
	"time"
)

// newV7 returns an RFC 9562 version 7 UUID: 48 bits of Unix milliseconds, then random
// bits. Ids made in the same millisecond are unordered among themselves, which is fine:
// ordering uses (created_at, id) and only needs ids to be unique.
func newV7() [16]byte {
	var u [16]byte
	if _, err := rand.Read(u[6:]); err != nil {
		panic("coditect: crypto/rand failed: " + err.Error())
	}
	ms := uint64(time.Now().UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	return u
}
