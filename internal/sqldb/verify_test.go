package sqldb_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

// testFindVerifyKey checks the verify lookup returns what verification needs, by hash only.
func testFindVerifyKey(t *testing.T, b backend) {
	_, s, a := MustAcme(t, b)
	MustCreatePermission(t, s, a.ID, "read", "write")
	k, secret := MustCreateKey(t, s, a.ID, fullKey())
	if err := s.AddDevice(ctx, k.ID, "laptop", 2); err != nil {
		t.Fatal(err)
	}
	vk, err := s.FindVerifyKey(ctx, latchkey.HashSecret(secret))
	if err != nil {
		t.Fatalf("FindVerifyKey: %v", err)
	}
	want := &latchkey.VerifyKey{
		KeyID: k.ID, AccountID: a.ID, Kind: latchkey.KindAPI, Name: k.Name, OwnerEmail: k.OwnerEmail,
		Enabled: true, ExpiresAt: k.ExpiresAt, Permissions: []string{"read", "write"}, RateLimit: k.RateLimit,
		MaxDevices: 2, Devices: []string{"laptop"}, Credits: k.Credits, Meta: json.RawMessage(`{"plan":"pro"}`),
	}
	if !reflect.DeepEqual(vk, want) {
		t.Errorf("FindVerifyKey:\ngot  %s\nwant %s", dump(vk), dump(want))
	}
	_, err = s.FindVerifyKey(ctx, latchkey.HashSecret("lk_unknown"))
	wantCode(t, err, latchkey.ENOTFOUND)

	plain, plainSecret := MustCreateKey(t, s, a.ID, nil)
	vk, err = s.FindVerifyKey(ctx, latchkey.HashSecret(plainSecret))
	if err != nil || vk.KeyID != plain.ID || vk.Devices == nil || len(vk.Devices) != 0 || vk.Permissions == nil || string(vk.Meta) != "{}" {
		t.Errorf("plain key: got %s, %v, want no devices, no permissions, meta {}", dump(vk), err)
	}
}

// testDevices checks adding, listing and deleting a key's devices within its limit.
func testDevices(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{MaxDevices: 2})
	add := func(device string, max int64) error {
		t.Helper()
		e.clock.Add(time.Second)
		return s.AddDevice(ctx, k.ID, device, max)
	}
	steps := []struct {
		device string
		max    int64
		code   string
	}{
		{"laptop", 2, ""},
		{"laptop", 2, ""}, // known: a no-op
		{"phone", 2, ""},
		{"tablet", 2, latchkey.ECONFLICT},
		{"laptop", 2, ""}, // known devices keep working at the limit
		{"laptop", 1, ""}, // and after the limit is lowered
		{"tablet", 1, latchkey.ECONFLICT},
	}
	for i, st := range steps {
		if got := latchkey.ErrorCode(add(st.device, st.max)); got != st.code {
			t.Errorf("step %d AddDevice(%q, %d): got code %q, want %q", i, st.device, st.max, got, st.code)
		}
	}
	devs, err := s.FindDevices(ctx, a.ID, k.ID)
	if err != nil {
		t.Fatalf("FindDevices: %v", err)
	}
	var names []string
	for _, d := range devs {
		names = append(names, d.DeviceID)
		if d.KeyID != k.ID || d.CreatedAt.IsZero() {
			t.Errorf("device %+v: want key %d and a creation time", d, k.ID)
		}
	}
	if !reflect.DeepEqual(names, []string{"laptop", "phone"}) {
		t.Errorf("devices: got %v, want [laptop phone]", names)
	}

	rec := MustSubscribe(t, s)
	if err := s.DeleteDevice(ctx, a.ID, k.ID, "laptop"); err != nil {
		t.Fatalf("DeleteDevice: %v", err)
	}
	if got := rec.take(); !reflect.DeepEqual(got, []latchkey.KeyChange{{AccountID: a.ID, KeyID: k.ID}}) {
		t.Errorf("change feed: got %v, want the key", got)
	}
	if err := add("tablet", 2); err != nil {
		t.Errorf("AddDevice after a removal: got %v, want nil", err)
	}
	wantCode(t, s.DeleteDevice(ctx, a.ID, k.ID, "laptop"), latchkey.ENOTFOUND)
	wantCode(t, s.DeleteDevice(ctx, a.ID, 9999, "phone"), latchkey.ENOTFOUND)
	wantCode(t, s.AddDevice(ctx, 9999, "phone", 0), latchkey.ENOTFOUND)
	wantCode(t, s.AddDevice(ctx, k.ID, "", 0), latchkey.EINVALID)
	_, err = s.FindDevices(ctx, a.ID, 9999)
	wantCode(t, err, latchkey.ENOTFOUND)
	if got := rec.take(); len(got) != 0 {
		t.Errorf("change feed after failed deletes: got %v, want nothing", got)
	}

	unlimited, _ := MustCreateKey(t, s, a.ID, nil)
	for i := 0; i < 12; i++ {
		if err := s.AddDevice(ctx, unlimited.ID, fmt.Sprintf("d%d", i), 0); err != nil {
			t.Fatalf("AddDevice with no limit: %v", err)
		}
	}
	if devs, _ := s.FindDevices(ctx, a.ID, unlimited.ID); len(devs) != 12 {
		t.Errorf("devices with no limit: got %d, want 12", len(devs))
	}

	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: a.ID, KeyID: &k.ID, Action: ptr(latchkey.ActionDeviceDelete)})
	if len(events) != 1 || events[0].TargetType != "device" || events[0].TargetID != "laptop" {
		t.Errorf("device events: got %s, want one for laptop", dump(events))
	}
}

// testAddDeviceConcurrentLimit checks concurrent new devices respect the limit exactly, and one device added at once is one.
func testAddDeviceConcurrentLimit(t *testing.T, b backend) {
	e := MustEnv(t, b)
	s := e.store
	a := MustCreateAccount(t, s, "acme")
	const max, tries = 5, 24
	k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{MaxDevices: max})
	codes := map[string]int{}
	for _, err := range race(tries, MustTwoStores(t, e), func(i int, s *sqldb.Store) error {
		return s.AddDevice(ctx, k.ID, fmt.Sprintf("device-%d", i), max)
	}) {
		codes[latchkey.ErrorCode(err)]++
	}
	// The same new device from many callers at once is one device.
	same, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{MaxDevices: 1})
	if err := errors.Join(race(8, []*sqldb.Store{s}, func(int, *sqldb.Store) error {
		return s.AddDevice(ctx, same.ID, "shared", 1)
	})...); err != nil {
		t.Errorf("AddDevice(shared): %v", err)
	}
	if want := map[string]int{"": max, latchkey.ECONFLICT: tries - max}; !reflect.DeepEqual(codes, want) {
		t.Errorf("outcomes: got %v, want %v", codes, want)
	}
	if devs, _ := s.FindDevices(ctx, a.ID, k.ID); len(devs) != max {
		t.Errorf("devices: got %d, want %d", len(devs), max)
	}
	if devs, _ := s.FindDevices(ctx, a.ID, same.ID); len(devs) != 1 {
		t.Errorf("shared device: got %d rows, want 1", len(devs))
	}
}

// testFlushUsage checks a usage batch spends credits, stamps last use and adds counts.
func testFlushUsage(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	t0 := e.clock.Now()
	k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{
		Credits: &latchkey.Credits{Remaining: 10, RefillAmount: ptr(int64(100)), RefillInterval: latchkey.RefillDay}})
	plain, _ := MustCreateKey(t, s, a.ID, nil)
	gone, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Credits: &latchkey.Credits{Remaining: 5}})
	if err := s.DeleteKey(ctx, a.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	day := t0.Add(24 * time.Hour)
	older := t0.Add(-time.Hour)

	steps := []struct {
		name         string
		usage        latchkey.KeyUsage
		wantLastUsed time.Time
		wantCredits  int64
		wantRefilled time.Time
	}{
		{"spend", latchkey.KeyUsage{LastUsedAt: t0.Add(time.Minute), CreditsSpent: 3}, t0.Add(time.Minute), 7, t0},
		{"never below zero, last used never back", latchkey.KeyUsage{LastUsedAt: t0, CreditsSpent: 20}, t0.Add(time.Minute), 0, t0},
		{"refill first, then spend", latchkey.KeyUsage{LastUsedAt: day, CreditsSpent: 5, RefilledAt: &day}, day, 95, day},
		{"the same refill again is not a refill", latchkey.KeyUsage{LastUsedAt: day, CreditsSpent: 5, RefilledAt: &day}, day, 90, day},
		{"an older refill is ignored, and the spend counted after it", latchkey.KeyUsage{CreditsSpent: 1, RefilledAt: &older}, day, 90, day},
		{"spend against the current value", latchkey.KeyUsage{CreditsSpent: 1, CreditsBase: &day}, day, 89, day},
		{"spend against a value set before the current one is dropped", latchkey.KeyUsage{CreditsSpent: 7, CreditsBase: &older}, day, 89, day},
		{"no spend", latchkey.KeyUsage{LastUsedAt: day.Add(time.Second)}, day.Add(time.Second), 89, day},
	}
	for _, st := range steps {
		u := st.usage
		u.KeyID = k.ID
		batch := &latchkey.UsageBatch{Keys: []latchkey.KeyUsage{u,
			{KeyID: gone.ID, LastUsedAt: day, CreditsSpent: 1}, // deleted since: skipped
			{KeyID: plain.ID, LastUsedAt: u.LastUsedAt, CreditsSpent: 4},
		}}
		if err := s.FlushUsage(ctx, batch); err != nil {
			t.Fatalf("%s: FlushUsage: %v", st.name, err)
		}
		got := MustFindKey(t, s, a.ID, k.ID)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(st.wantLastUsed) {
			t.Errorf("%s: last_used_at: got %v, want %v", st.name, got.LastUsedAt, st.wantLastUsed)
		}
		if got.Credits == nil || got.Credits.Remaining != st.wantCredits {
			t.Errorf("%s: credits: got %+v, want %d remaining", st.name, got.Credits, st.wantCredits)
		}
		if got.Credits == nil || got.Credits.RefilledAt == nil || !got.Credits.RefilledAt.Equal(st.wantRefilled) {
			t.Errorf("%s: refilled_at: got %+v, want %v", st.name, got.Credits, st.wantRefilled)
		}
	}
	if p := MustFindKey(t, s, a.ID, plain.ID); p.Credits != nil || p.LastUsedAt == nil {
		t.Errorf("key without credits: got credits %+v last used %v, want no credits and a last use", p.Credits, p.LastUsedAt)
	}

	minute := t0.Truncate(time.Minute)
	counts := []latchkey.UsageCount{
		{KeyID: k.ID, Minute: minute.Add(10 * time.Second), Code: latchkey.CodeValid, Count: 2},
		{KeyID: k.ID, Minute: minute, Code: latchkey.CodeValid, Count: 1},
		{KeyID: k.ID, Minute: minute, Code: latchkey.CodeUsageExceeded, Count: 4},
		{KeyID: gone.ID, Minute: minute, Code: latchkey.CodeValid, Count: 9},
	}
	for i := 0; i < 2; i++ {
		if err := s.FlushUsage(ctx, &latchkey.UsageBatch{Counts: counts}); err != nil {
			t.Fatalf("FlushUsage(counts): %v", err)
		}
	}
	buckets, err := s.FindUsage(ctx, a.ID, k.ID, latchkey.UsageFilter{Since: minute, Until: minute.Add(time.Minute), Bucket: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want := []*latchkey.UsageBucket{{Start: minute, Counts: map[string]int64{"VALID": 6, "USAGE_EXCEEDED": 8}, Total: 14}}
	if !reflect.DeepEqual(buckets, want) {
		t.Errorf("counts added: got %s, want %s", dump(buckets), dump(want))
	}

	if err := s.FlushUsage(ctx, nil); err != nil {
		t.Errorf("nil batch: got %v, want nil", err)
	}
	if err := s.FlushUsage(ctx, &latchkey.UsageBatch{}); err != nil {
		t.Errorf("empty batch: got %v, want nil", err)
	}
	err = s.FlushUsage(ctx, &latchkey.UsageBatch{Keys: []latchkey.KeyUsage{{KeyID: k.ID, CreditsSpent: -1}}})
	wantCode(t, err, latchkey.EINVALID)
	err = s.FlushUsage(ctx, &latchkey.UsageBatch{Counts: []latchkey.UsageCount{{KeyID: k.ID, Minute: minute, Code: "VALID", Count: -1}}})
	wantCode(t, err, latchkey.EINVALID)
}

// testFlushUsageMany flushes more keys than one statement writes: every
// key's last use, credits and counters land, across full and partial
// chunks.
func testFlushUsageMany(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	const n = 2*sqldb.FlushRows + 7
	now := e.clock.Now()
	minute := now.Truncate(time.Minute)
	batch := &latchkey.UsageBatch{}
	ids := make([]int64, n)
	for i := range n {
		var cr *latchkey.Credits
		if i%2 == 0 {
			cr = &latchkey.Credits{Remaining: 1000}
		}
		k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Credits: cr})
		ids[i] = k.ID
		at := now.Add(time.Duration(i) * time.Millisecond)
		batch.Keys = append(batch.Keys, latchkey.KeyUsage{KeyID: k.ID, LastUsedAt: at, CreditsSpent: int64(i % 10)})
		batch.Counts = append(batch.Counts,
			latchkey.UsageCount{KeyID: k.ID, Minute: minute, Code: latchkey.CodeValid, Count: int64(i + 1)},
			latchkey.UsageCount{KeyID: k.ID, Minute: minute, Code: latchkey.CodeRateLimited, Count: 1})
	}
	for range 2 {
		if err := s.FlushUsage(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids {
		k := MustFindKey(t, s, a.ID, id)
		if want := now.Add(time.Duration(i) * time.Millisecond); k.LastUsedAt == nil || !k.LastUsedAt.Equal(want) {
			t.Fatalf("key %d: last_used_at got %v, want %v", i, k.LastUsedAt, want)
		}
		switch {
		case i%2 == 0 && (k.Credits == nil || k.Credits.Remaining != 1000-2*int64(i%10)):
			t.Fatalf("key %d: credits got %+v, want %d", i, k.Credits, 1000-2*(i%10))
		case i%2 == 1 && k.Credits != nil:
			t.Fatalf("key %d: credits got %+v, want none", i, k.Credits)
		}
		u, err := s.FindUsage(ctx, a.ID, id, latchkey.UsageFilter{Since: minute, Until: minute.Add(time.Minute), Bucket: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int64{"VALID": 2 * int64(i+1), "RATE_LIMITED": 2}; len(u) != 1 || !reflect.DeepEqual(u[0].Counts, want) {
			t.Fatalf("key %d: usage got %s, want %v", i, dump(u), want)
		}
	}
}

// testFindUsage checks usage counts by outcome in buckets over a range, outside counts left out.
func testFindUsage(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	k, _ := MustCreateKey(t, s, a.ID, nil)
	t0 := e.clock.Now() // 03:04:05
	m := t0.Truncate(time.Minute)
	if err := s.FlushUsage(ctx, &latchkey.UsageBatch{Counts: []latchkey.UsageCount{
		{KeyID: k.ID, Minute: m, Code: latchkey.CodeValid, Count: 3},
		{KeyID: k.ID, Minute: m, Code: latchkey.CodeRateLimited, Count: 1},
		{KeyID: k.ID, Minute: m.Add(time.Minute), Code: latchkey.CodeValid, Count: 2},
		{KeyID: k.ID, Minute: m.Add(61 * time.Minute), Code: latchkey.CodeValid, Count: 5},
		{KeyID: k.ID, Minute: m.Add(-48 * time.Hour), Code: latchkey.CodeValid, Count: 100},
	}}); err != nil {
		t.Fatal(err)
	}
	hour := t0.Truncate(time.Hour)
	day := t0.Truncate(24 * time.Hour)
	bucket := func(start time.Time, counts map[string]int64) *latchkey.UsageBucket {
		var total int64
		for _, n := range counts {
			total += n
		}
		return &latchkey.UsageBucket{Start: start, Counts: counts, Total: total}
	}
	tests := []struct {
		name string
		f    latchkey.UsageFilter
		want []*latchkey.UsageBucket
	}{
		{"minutes", latchkey.UsageFilter{Since: t0, Until: m.Add(3 * time.Minute), Bucket: time.Minute}, []*latchkey.UsageBucket{
			bucket(m, map[string]int64{"VALID": 3, "RATE_LIMITED": 1}),
			bucket(m.Add(time.Minute), map[string]int64{"VALID": 2}),
			bucket(m.Add(2*time.Minute), map[string]int64{}),
		}},
		{"hours", latchkey.UsageFilter{Since: t0, Until: t0.Add(2 * time.Hour), Bucket: time.Hour}, []*latchkey.UsageBucket{
			bucket(hour, map[string]int64{"VALID": 5, "RATE_LIMITED": 1}),
			bucket(hour.Add(time.Hour), map[string]int64{"VALID": 5}),
			bucket(hour.Add(2*time.Hour), map[string]int64{}),
		}},
		{"days", latchkey.UsageFilter{Since: t0.Add(-72 * time.Hour), Until: t0, Bucket: 24 * time.Hour}, []*latchkey.UsageBucket{
			bucket(day.Add(-72*time.Hour), map[string]int64{}),
			bucket(day.Add(-48*time.Hour), map[string]int64{"VALID": 100}),
			bucket(day.Add(-24*time.Hour), map[string]int64{}),
			bucket(day, map[string]int64{"VALID": 3, "RATE_LIMITED": 1}), // until t0 excludes later minutes
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindUsage(ctx, a.ID, k.ID, tt.f)
			if err != nil {
				t.Fatalf("FindUsage: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", dump(got), dump(tt.want))
			}
		})
	}
	t.Run("default range", func(t *testing.T) {
		got, err := s.FindUsage(ctx, a.ID, k.ID, latchkey.UsageFilter{Bucket: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(got); n != 25 || !got[n-1].Start.Equal(hour) || got[n-1].Total != 4 {
			t.Errorf("got %d buckets ending %s, want 25 ending with this hour's 4", n, dump(got[len(got)-1]))
		}
	})
	invalid := []struct {
		name  string
		f     latchkey.UsageFilter
		field string
	}{
		{"bucket of two minutes", latchkey.UsageFilter{Bucket: 2 * time.Minute}, "bucket"},
		{"no bucket", latchkey.UsageFilter{}, "bucket"},
		{"since after until", latchkey.UsageFilter{Since: t0, Until: t0.Add(-time.Hour), Bucket: time.Hour}, "since"},
		{"too many buckets", latchkey.UsageFilter{Since: t0.Add(-30 * 24 * time.Hour), Until: t0, Bucket: time.Minute}, "bucket"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.FindUsage(ctx, a.ID, k.ID, tt.f)
			wantCode(t, err, latchkey.EINVALID)
			if _, ok := latchkey.ErrorFields(err)[tt.field]; !ok {
				t.Errorf("fields: got %v, want %q", latchkey.ErrorFields(err), tt.field)
			}
		})
	}
	_, err := s.FindUsage(ctx, a.ID, 9999, latchkey.UsageFilter{Bucket: time.Hour})
	wantCode(t, err, latchkey.ENOTFOUND)
}

// testFlushUsageConcurrent flushes from two instances at once, each batch
// updating some keys and counting others, as verifiers on several machines
// do: every flush succeeds and every count and spend is applied once.
func testFlushUsageConcurrent(t *testing.T, b backend) {
	e := MustEnv(t, b)
	stores := MustTwoStores(t, e)
	a := MustCreateAccount(t, e.store, "acme")
	const nkeys, workers, rounds = 6, 8, 15
	var ids []int64
	for i := 0; i < nkeys; i++ {
		k, _ := MustCreateKey(t, e.store, a.ID, &latchkey.KeyCreate{Credits: &latchkey.Credits{Remaining: 1000}})
		ids = append(ids, k.ID)
	}
	minute := e.clock.Now().Truncate(time.Minute)
	errs := race(workers, stores, func(w int, s *sqldb.Store) error {
		for r := 0; r < rounds; r++ {
			spend, count := ids[(w+r)%nkeys], ids[(w+r+3)%nkeys] // crossing sets
			if w%2 == 1 {
				spend, count = count, spend
			}
			if err := s.FlushUsage(ctx, &latchkey.UsageBatch{
				Keys:   []latchkey.KeyUsage{{KeyID: spend, LastUsedAt: minute, CreditsSpent: 1}},
				Counts: []latchkey.UsageCount{{KeyID: count, Minute: minute, Code: latchkey.CodeValid, Count: 1}},
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("FlushUsage: %v", err)
	}
	var spent, counted int64
	for _, id := range ids {
		k := MustFindKey(t, e.store, a.ID, id)
		spent += 1000 - k.Credits.Remaining
		buckets, err := e.store.FindUsage(ctx, a.ID, id, latchkey.UsageFilter{Since: minute, Until: minute.Add(time.Minute), Bucket: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		counted += buckets[0].Total
	}
	if want := int64(workers * rounds); spent != want || counted != want {
		t.Errorf("got %d credits spent and %d counted, want %d of each", spent, counted, want)
	}
}
