package redisq

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proofmill/proofmill/scheduler"
)

// Usage tallies: a hash per tenant and UTC day, usagePrefix + day + ":" +
// tenant, whose fields are circuit TAB backend TAB figure (p proofs, ms
// proof-milliseconds, c constraints, b stored bytes), added to by
// updateScript in the step that records an outcome. Each hash expires
// scheduler.UsageRetention after its day ends; usageDaysKey is a sorted
// set of day TAB tenant by the day's Unix time, trimmed to the same
// retention, so reads find the hashes without a SCAN. Both share the
// {j} slot with the jobs.
const (
	usagePrefix  = "proofmill:{j}:usage:"
	usageDaysKey = "proofmill:{j}:usage-days"
)

// usageFigures are the hash fields' last parts, in Usage's order.
var usageFigures = []string{"p", "ms", "c", "b"}

// usageArgs are updateScript's extra keys and arguments that add u.
func usageArgs(u scheduler.Usage) (keys []string, args []any, err error) {
	day, err := time.Parse(scheduler.DayLayout, u.Day)
	if err != nil {
		return nil, nil, fmt.Errorf("usage day %q: %w", u.Day, err)
	}
	keys = []string{usagePrefix + u.Day + ":" + u.Tenant, usageDaysKey}
	expires := day.Add(24 * time.Hour).Add(scheduler.UsageRetention)
	args = []any{u.Day + "\t" + u.Tenant, day.Unix(), expires.UnixMilli(), day.Add(-scheduler.UsageRetention).Unix()}
	field := u.Circuit + "\t" + u.Backend + "\t"
	for i, n := range []int64{u.Proofs, u.ProofMillis, u.Constraints, u.StoredBytes} {
		if n != 0 {
			args = append(args, field+usageFigures[i], n)
		}
	}
	return keys, args, nil
}

// Usage lists the tallies q selects: the days from the sorted set, then
// their hashes, pipelined.
func (s *Store) Usage(ctx context.Context, q scheduler.UsageQuery) ([]scheduler.Usage, error) {
	from := "-inf"
	if q.Since != "" {
		day, err := time.Parse(scheduler.DayLayout, q.Since)
		if err != nil {
			return nil, fmt.Errorf("redisq: usage: since %q: %w", q.Since, err)
		}
		from = strconv.FormatInt(day.Unix(), 10)
	}
	members, err := s.client.ZRangeByScore(ctx, usageDaysKey, &redis.ZRangeBy{Min: from, Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisq: usage: %w", unavailable(err))
	}
	type dayTenant struct{ day, tenant string }
	var picked []dayTenant
	for _, m := range members {
		day, tenant, _ := strings.Cut(m, "\t")
		if q.All || tenant == q.Tenant {
			picked = append(picked, dayTenant{day, tenant})
		}
	}
	if len(picked) == 0 {
		return nil, nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(picked))
	for i, p := range picked {
		cmds[i] = pipe.HGetAll(ctx, usagePrefix+p.day+":"+p.tenant)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redisq: usage: %w", unavailable(err))
	}
	var out []scheduler.Usage
	for i, p := range picked {
		byKey := map[string]*scheduler.Usage{}
		for field, value := range cmds[i].Val() {
			parts := strings.Split(field, "\t")
			n, err := strconv.ParseInt(value, 10, 64)
			if len(parts) != 3 || err != nil {
				return nil, fmt.Errorf("redisq: usage of %s on %s: malformed field %q = %q", p.tenant, p.day, field, value)
			}
			k := parts[0] + "\t" + parts[1]
			u := byKey[k]
			if u == nil {
				u = &scheduler.Usage{Tenant: p.tenant, Day: p.day, Circuit: parts[0], Backend: parts[1]}
				byKey[k] = u
			}
			switch parts[2] {
			case "p":
				u.Proofs = n
			case "ms":
				u.ProofMillis = n
			case "c":
				u.Constraints = n
			case "b":
				u.StoredBytes = n
			}
		}
		for _, u := range byKey {
			out = append(out, *u)
		}
	}
	return out, nil
}
