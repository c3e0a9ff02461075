package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	h := newHistogram()
	for v := 1; v <= 100000; v++ { // 1 µs … 100 ms, uniform
		h.record(time.Duration(v) * time.Microsecond)
	}
	for q, want := range map[float64]int64{0.5: 50000, 0.95: 95000, 0.99: 99000, 1: 100000} {
		require.InEpsilon(t, want, h.quantile(q), 0.003, "q%.2f", q)
	}
	for _, v := range []int64{0, 1023, 1024, 1 << 20, 1 << 40, 1<<62 + 12345} {
		i := bucketOf(v)
		require.Less(t, i, len(h.counts), "bucket of %d", v)
		require.GreaterOrEqual(t, valueOf(i), v, "bucket of %d", v)
		require.LessOrEqual(t, float64(valueOf(i)-v), 0.002*float64(v), "bucket of %d", v)
	}
}

func TestFlagsRefuseNonLoopbackAndBadMixes(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"} {
		_, err := loopbackURL(u)
		require.NoError(t, err, u)
	}
	for _, u := range []string{"http://10.0.0.1:8080", "https://127.0.0.1:8080", "http://example.com:80", "http://127.0.0.1"} {
		_, err := loopbackURL(u)
		require.Error(t, err, u)
	}
	w, err := parseMix("list=1,get=2,create=3,update=4")
	require.NoError(t, err)
	require.Equal(t, [numOps]int{1, 2, 3, 4}, w)
	for _, m := range []string{"list=0", "lst=1", "get=-1", "get"} {
		_, err := parseMix(m)
		require.Error(t, err, m)
	}
}
