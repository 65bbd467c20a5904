package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/sdk"
)

func TestAnExposureIsRecordedOncePerUnitFlagVariantAndVersionWithinTheWindow(t *testing.T) {
	in := newIntake(t)
	c := in.client(t)
	ann, bob := user("ann"), user("bob")
	annVariant := c.BoolDetails("checkout", ann, false).Variant
	bobVariant := c.BoolDetails("checkout", bob, false).Variant
	for range 100 {
		c.Bool("checkout", ann, false)
		c.BoolDetails("checkout", bob, false)
	}
	if s := c.EventStats(); s.Recorded != 2 {
		t.Fatalf("after 202 evaluations of two units: %d recorded, want 2", s.Recorded)
	}

	sdk.PassTime(c, 9*time.Minute)
	c.Bool("checkout", ann, false)
	if s := c.EventStats(); s.Recorded != 2 {
		t.Fatalf("9 minutes later, within the 10-minute window: %d recorded, want 2", s.Recorded)
	}
	sdk.PassTime(c, 3*time.Minute)
	c.Bool("checkout", ann, false)
	c.Bool("checkout", ann, false)
	if s := c.EventStats(); s.Recorded != 3 {
		t.Fatalf("12 minutes later, after the window: %d recorded, want 3", s.Recorded)
	}

	in.setSnapshot(snapshotOf(withAllowList, 11, 4))
	eventually(t, "the client serves flag version 4", func() bool { return c.BoolDetails("checkout", ann, false).Version == 4 })
	c.Bool("checkout", ann, false)
	if s := c.EventStats(); s.Recorded != 4 {
		t.Fatalf("after the flag's version changed: %d recorded, want 4", s.Recorded)
	}

	closeClient(t, c)
	want := []string{
		"ann checkout " + annVariant + " 3",
		"ann checkout " + annVariant + " 3",
		"ann checkout " + annVariant + " 4",
		"bob checkout " + bobVariant + " 3",
	}
	if got := in.exposures(); !reflect.DeepEqual(got, want) {
		t.Errorf("the intake stored exposures %q, want %q", got, want)
	}
}

func TestAnExposureIsRecordedAgainOnceTheWindowHasPassed(t *testing.T) {
	in := newIntake(t)
	c := in.client(t, sdk.WithExposureDedupWindow(50*time.Millisecond))
	c.Bool("checkout", user("ann"), false)
	start := time.Now()
	eventually(t, "the exposure is recorded again", func() bool {
		c.Bool("checkout", user("ann"), false)
		return c.EventStats().Recorded == 2
	})
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("recorded again after %v, within the 50 ms window", waited)
	}
}

func TestEvaluationsThatExposeNoUnitRecordNothing(t *testing.T) {
	in := newIntake(t)
	c := in.client(t)
	cases := []struct {
		name     string
		evaluate func()
	}{
		{"a split that serves no experiment or rollout", func() { c.Bool("plain", user("ann"), false) }},
		{"a rule serving one variant before the experiment's split", func() {
			c.Bool("checkout", &eval.Context{TargetingKey: "ann", Attributes: map[string]any{"staff": true}}, false)
		}},
		{"an experiment's split without its unit (TARGETING_KEY_MISSING)", func() { c.Bool("checkout", &eval.Context{}, false) }},
		{"an experiment's flag read as another type (TYPE_MISMATCH)", func() { c.String("checkout", user("ann"), "") }},
		{"a missing flag", func() { c.Bool("nope", user("ann"), false) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.evaluate()
			if s := c.EventStats(); s.Recorded != 0 {
				t.Errorf("%d events recorded, want none", s.Recorded)
			}
		})
	}
}

func TestTheIntakeReceivesGzippedBatchesOfValidEvents(t *testing.T) {
	in := newIntake(t)
	c := in.client(t)
	d := c.StringDetails("banner", &eval.Context{TargetingKey: "ann", Attributes: map[string]any{"accountId": 42}}, "")
	if d.Allocation == nil || d.Allocation.Rollout != "banner-rollout" {
		t.Fatalf("banner: %+v, want an allocation of banner-rollout", d.Result)
	}
	c.Bool("checkout", user("bob"), false)
	if err := c.Track("purchase", "ann", sdk.WithValue(12.5), sdk.WithProperties(map[string]any{
		"plan": "pro", "amount": 3, "email": "ann@example.com", "secret": "s3cr3t",
	})); err != nil {
		t.Fatal(err)
	}
	if err := c.Track("signup", "bob"); err != nil {
		t.Fatal(err)
	}
	closeClient(t, c)

	for _, p := range in.postsSoFar() {
		if p.encoded != "gzip" {
			t.Errorf("a batch came with Content-Encoding %q, want gzip", p.encoded)
		}
		if p.batch.SDK == "" || p.batch.SentAt.IsZero() || len(p.batch.ID) != 32 {
			t.Errorf("batch envelope %q sent at %v by %q: want a 32-digit id, sentAt and sdk", p.batch.ID, p.batch.SentAt, p.batch.SDK)
		}
	}
	byKind := map[string]event.Event{}
	for _, e := range in.events() {
		byKind[string(e.Kind)+" "+e.Flag+e.Name] = e
	}
	if len(byKind) != 4 {
		t.Fatalf("the intake stored %d distinct events, want 4: %+v", len(byKind), byKind)
	}
	banner := byKind["exposure banner"]
	if banner.Unit != "42" || banner.Variant != d.Variant || banner.FlagVersion != 3 || banner.Reason != "SPLIT" ||
		banner.Rollout != "banner-rollout" || banner.Experiment != "" || banner.Time.IsZero() {
		t.Errorf("exposure of a split by a whole-number accountId: %+v", banner)
	}
	if checkout := byKind["exposure checkout"]; checkout.Unit != "bob" || checkout.Experiment != "checkout-test" {
		t.Errorf("exposure of the experiment: %+v", checkout)
	}
	purchase := byKind["track purchase"]
	if purchase.Unit != "ann" || purchase.Value == nil || *purchase.Value != 12.5 {
		t.Errorf("track event: %+v", purchase)
	}
	if want := map[string]any{"plan": "pro", "amount": 3.0}; !reflect.DeepEqual(purchase.Properties, want) {
		t.Errorf("properties %v, want %v: private and unlisted ones stay in the application", purchase.Properties, want)
	}
	if signup := byKind["track signup"]; signup.Value != nil || signup.Properties != nil {
		t.Errorf("a track event without value or properties: %+v", signup)
	}
}

func TestWithoutAnAllowListOnlyPrivateAttributesAreWithheld(t *testing.T) {
	in := newIntake(t)
	in.setSnapshot(snapshotOf(withoutAllowList, 10, 3))
	c := in.client(t)
	if err := c.Track("purchase", "ann", sdk.WithProperties(map[string]any{"plan": "pro", "email": "ann@example.com", "coupon": "X1"})); err != nil {
		t.Fatal(err)
	}
	closeClient(t, c)
	got := in.events()
	if want := map[string]any{"plan": "pro", "coupon": "X1"}; len(got) != 1 || !reflect.DeepEqual(got[0].Properties, want) {
		t.Errorf("stored %+v, want one event with properties %v", got, want)
	}
}

func TestTrackRefusesEventsTheIntakeWouldReject(t *testing.T) {
	in := newIntake(t)
	c := in.client(t)
	long := string(make([]byte, 300))
	cases := []struct {
		name  string
		event string
		unit  string
		opts  []sdk.TrackOption
	}{
		{"an empty name", "", "ann", nil},
		{"a name with spaces", "bought it", "ann", nil},
		{"no unit", "purchase", "", nil},
		{"a unit of 300 bytes", "purchase", long, nil},
		{"a value that is not a number", "purchase", "ann", []sdk.TrackOption{sdk.WithValue(math.NaN())}},
		{"an infinite value", "purchase", "ann", []sdk.TrackOption{sdk.WithValue(math.Inf(1))}},
		{"a list property", "purchase", "ann", []sdk.TrackOption{sdk.WithProperties(map[string]any{"plan": []string{"a"}})}},
		{"a property of 300 bytes", "purchase", "ann", []sdk.TrackOption{sdk.WithProperties(map[string]any{"plan": long})}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Track(tc.event, tc.unit, tc.opts...)
			if !errors.Is(err, sdk.ErrInvalidEvent) {
				t.Fatalf("Track = %v, want ErrInvalidEvent", err)
			}
			if s := c.EventStats(); s.Invalid != int64(i+1) || s.Recorded != 0 {
				t.Errorf("stats %+v: want %d invalid and nothing recorded", s, i+1)
			}
		})
	}
	if err := c.Track("purchase", "ann", sdk.WithProperties(map[string]any{"secret": []string{"ignored"}})); err != nil {
		t.Errorf("a property that is withheld anyway made Track fail: %v", err)
	}
}

func TestRetryAfterIsHonouredAndEveryEventArrivesOnce(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			in := newIntake(t)
			in.setAnswer(func(n int, b *event.Batch, w http.ResponseWriter) int {
				if n < 2 {
					w.Header().Set("Retry-After", "1")
					http.Error(w, "slow down", status)
					return status
				}
				return http.StatusAccepted
			})
			c := in.client(t)
			for i := range 3 {
				if err := c.Track("purchase", "u"+strconv.Itoa(i)); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, "the events are delivered", func() bool { return c.EventStats().Sent == 3 })
			posts := in.postsSoFar()
			if len(posts) < 3 {
				t.Fatalf("%d requests, want at least 3", len(posts))
			}
			for i := 1; i < 3; i++ {
				if gap := posts[i].at.Sub(posts[i-1].at); gap < 900*time.Millisecond {
					t.Errorf("attempt %d came %v after a Retry-After of 1 s", i+1, gap)
				}
				if posts[i].batch.ID != posts[0].batch.ID {
					t.Errorf("attempt %d has id %q, want the first attempt's %q", i+1, posts[i].batch.ID, posts[0].batch.ID)
				}
				if !posts[i].batch.SentAt.After(posts[i-1].batch.SentAt) {
					t.Errorf("attempt %d says it was sent at %v, not after the previous attempt", i+1, posts[i].batch.SentAt)
				}
			}
			closeClient(t, c)
			if n := len(in.events()); n != 3 {
				t.Errorf("the intake stored %d events, want each of the 3 once", n)
			}
			checkBalance(t, c.EventStats())
		})
	}
}

func TestServerErrorsAndLostAnswersAreRetriedWithTheSameID(t *testing.T) {
	in := newIntake(t)
	var calls atomic.Int32
	in.setAnswer(func(n int, b *event.Batch, w http.ResponseWriter) int {
		switch calls.Add(1) {
		case 1:
			http.Error(w, "oops", http.StatusInternalServerError)
			return http.StatusInternalServerError
		case 2:
			return lostAnswer // stored; the retry must not store it twice
		}
		return http.StatusAccepted
	})
	c := in.client(t)
	for i := range 5 {
		_ = c.Track("purchase", "u"+strconv.Itoa(i))
	}
	closeClient(t, c)
	posts := in.postsSoFar()
	ids := map[string]bool{}
	for _, p := range posts {
		ids[p.batch.ID] = true
	}
	if len(posts) < 2 || len(ids) != 1 {
		t.Errorf("%d requests with %d ids, want retries of one batch", len(posts), len(ids))
	}
	if s := c.EventStats(); s.Sent != 5 || s.Dropped != 0 {
		t.Errorf("stats %+v, want 5 sent", s)
	}
	if n := len(in.events()); n != 5 {
		t.Errorf("the intake stored %d events, want 5", n)
	}
}

func TestAnInvalidBatchIsNotRetriedAndCountsAsRejected(t *testing.T) {
	in := newIntake(t)
	in.setAnswer(func(n int, b *event.Batch, w http.ResponseWriter) int {
		if n == 0 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"title": "invalid event batch", "status": 400, "errors": [{"index": 0, "field": "unit", "message": "unit is required"}]}`)
			return http.StatusBadRequest
		}
		return http.StatusAccepted
	})
	c := in.client(t, sdk.WithEventBatchSize(2))
	_ = c.Track("purchase", "ann")
	_ = c.Track("purchase", "bob")
	eventually(t, "the batch is rejected", func() bool { return c.EventStats().Rejected == 2 })
	_ = c.Track("purchase", "cid")
	closeClient(t, c)
	s := c.EventStats()
	if s.Rejected != 2 || s.Sent != 1 || s.Dropped != 0 {
		t.Errorf("stats %+v, want 2 rejected and 1 sent", s)
	}
	posts := in.postsSoFar()
	for _, p := range posts[1:] {
		if p.batch.ID == posts[0].batch.ID {
			t.Errorf("the rejected batch was sent again")
		}
	}
	if got := in.droppedReported(); got != 2 {
		t.Errorf("later batches reported %d dropped, want the 2 rejected", got)
	}
	checkBalance(t, s)
}

func TestATooLargeBatchIsSplitAndATooLargeEventDropped(t *testing.T) {
	in := newIntake(t)
	in.setAnswer(func(n int, b *event.Batch, w http.ResponseWriter) int {
		tooLarge := len(b.Events) > 2
		for _, e := range b.Events {
			tooLarge = tooLarge || e.Unit == "huge"
		}
		if tooLarge {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return http.StatusRequestEntityTooLarge
		}
		return http.StatusAccepted
	})
	c := in.client(t, sdk.WithEventBatchSize(8), sdk.WithEventFlushInterval(time.Hour))
	for i := range 7 {
		_ = c.Track("purchase", "u"+strconv.Itoa(i))
	}
	_ = c.Track("purchase", "huge")
	eventually(t, "the batch is delivered in parts", func() bool {
		s := c.EventStats()
		return s.Sent+s.Dropped == 8
	})
	if s := c.EventStats(); s.Sent != 7 || s.Dropped != 1 {
		t.Errorf("stats %+v, want 7 sent and the huge one dropped", s)
	}
	for _, p := range in.postsSoFar() {
		if p.status == http.StatusAccepted && len(p.batch.Events) > 2 {
			t.Errorf("a batch of %d events was accepted", len(p.batch.Events))
		}
	}
	_ = c.Track("purchase", "after")
	closeClient(t, c)
	if got := in.droppedReported(); got != 1 {
		t.Errorf("batches reported %d dropped, want 1", got)
	}
}

func TestAFullBufferDropsEventsAndTheIntakeHearsHowMany(t *testing.T) {
	in := newIntake(t)
	release := make(chan struct{})
	in.setAnswer(func(n int, b *event.Batch, w http.ResponseWriter) int {
		if n == 0 {
			<-release // the intake is stuck on the first batch
		}
		return http.StatusAccepted
	})
	c := in.client(t, sdk.WithEventBufferSize(10), sdk.WithEventBatchSize(5))
	full := 0
	for i := range 30 {
		if err := c.Track("purchase", "u"+strconv.Itoa(i)); errors.Is(err, sdk.ErrBufferFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if s := c.EventStats(); full != 20 || s.Dropped != 20 || s.Pending != 10 {
		t.Errorf("%d ErrBufferFull, stats %+v; want 20 dropped and 10 pending", full, s)
	}
	close(release)
	closeClient(t, c)
	s := c.EventStats()
	if s.Sent != 10 || s.Pending != 0 {
		t.Errorf("stats %+v, want the 10 buffered events sent", s)
	}
	if got := in.droppedReported(); got != 20 {
		t.Errorf("batches reported %d dropped, want 20", got)
	}
	checkBalance(t, s)
}

func TestCloseSendsWhatIsBufferedAndWaitsForTheSender(t *testing.T) {
	in := newIntake(t)
	c := in.client(t, sdk.WithEventFlushInterval(time.Hour))
	c.Bool("checkout", user("ann"), false)
	_ = c.Track("purchase", "ann")
	if n := len(in.postsSoFar()); n != 0 {
		t.Fatalf("%d batches sent before the flush interval", n)
	}
	closeClient(t, c)
	if n := len(in.events()); n != 2 {
		t.Errorf("the intake stored %d events, want both", n)
	}
	if err := c.Track("purchase", "ann"); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Track after Close = %v, want ErrClosed", err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	checkBalance(t, c.EventStats())
}

func TestCloseGivesUpWhenItsContextEnds(t *testing.T) {
	in := newIntake(t)
	in.setAnswer(func(n int, b *event.Batch, w http.ResponseWriter) int {
		http.Error(w, "down", http.StatusBadGateway)
		return http.StatusBadGateway
	})
	c := in.client(t, sdk.WithEventFlushInterval(time.Hour))
	for i := range 3 {
		_ = c.Track("purchase", "u"+strconv.Itoa(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the deadline", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("Close took %v with a 100 ms deadline", waited)
	}
	if s := c.EventStats(); s.Dropped != 3 || s.Pending != 0 {
		t.Errorf("stats %+v, want the 3 undelivered events dropped", s)
	}
}

func TestARefusedKeyStopsSendingAndIsReported(t *testing.T) {
	in := newIntake(t)
	in.setAnswer(func(n int, b *event.Batch, w http.ResponseWriter) int {
		http.Error(w, "revoked", http.StatusUnauthorized)
		return http.StatusUnauthorized
	})
	c := in.client(t)
	_ = c.Track("purchase", "ann")
	eventually(t, "the refusal is reported", func() bool { return c.EventStats().Err != nil })
	eventually(t, "the event is dropped", func() bool { return c.EventStats().Dropped == 1 })
	s := c.EventStats()
	if !errors.Is(s.Err, sdk.ErrUnauthorized) || s.Pending != 0 {
		t.Errorf("stats %+v, want ErrUnauthorized and nothing pending", s)
	}
	if err := c.Track("purchase", "bob"); !errors.Is(err, sdk.ErrUnauthorized) {
		t.Errorf("Track after the refusal = %v, want ErrUnauthorized", err)
	}
	closeClient(t, c)
	if n := len(in.postsSoFar()); n != 1 {
		t.Errorf("%d requests, want none after the refusal", n)
	}
}

func TestOfflineAndDisabledClientsRecordAndSendNothing(t *testing.T) {
	in := newIntake(t)
	offline := newClient(t, "", sdk.WithOffline(), sdk.WithBootstrap([]byte(snapshotOf(withAllowList, 10, 3))))
	disabled := in.client(t, sdk.WithEvents(false))
	for name, c := range map[string]*sdk.Client{"offline": offline, "WithEvents(false)": disabled} {
		if d := c.BoolDetails("checkout", user("ann"), false); d.Allocation == nil {
			t.Fatalf("%s: checkout is no exposure: %+v", name, d.Result)
		}
		if err := c.Track("purchase", "ann"); err != nil {
			t.Errorf("%s: Track = %v, want nil", name, err)
		}
		if s := c.EventStats(); s != (sdk.EventStats{}) {
			t.Errorf("%s: stats %+v, want none", name, s)
		}
	}
	closeClient(t, disabled)
	if n := len(in.postsSoFar()); n != 0 {
		t.Errorf("%d batches sent", n)
	}
}

func TestExposuresOfFlagsWithoutAServerVersionAreDropped(t *testing.T) {
	flagsFile := fmt.Sprintf(experimentFlags, withAllowList)
	down := newIntake(t)
	down.ts.Close()
	c := newClient(t, intakeKey, sdk.WithBaseURL(down.ts.URL), sdk.WithBootstrap([]byte(flagsFile)),
		sdk.WithBackoff(time.Hour, time.Hour))
	if d := c.BoolDetails("checkout", user("ann"), false); d.Allocation == nil || d.Version != 0 {
		t.Fatalf("bootstrap evaluation %+v, want an exposure at version 0", d.Result)
	}
	if s := c.EventStats(); s.Recorded != 1 || s.Dropped != 1 {
		t.Errorf("stats %+v, want the exposure recorded and dropped", s)
	}
	// Close tries to report the drop to the unreachable intake until its
	// deadline; no event is cut off, since none was pending.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
}

func TestManyGoroutinesEvaluateAndTrackWhileTheSenderRuns(t *testing.T) {
	in := newIntake(t)
	c := in.client(t, sdk.WithEventBatchSize(50), sdk.WithEventFlushInterval(time.Millisecond))
	const goroutines, rounds, units = 8, 500, 100
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctxs := make([]eval.Context, units)
			for i := range ctxs {
				ctxs[i] = eval.Context{TargetingKey: "u" + strconv.Itoa(i), Attributes: map[string]any{"accountId": i}}
			}
			for r := range rounds {
				ctx := &ctxs[(g*rounds+r)%units]
				c.Bool("checkout", ctx, false)
				c.String("banner", ctx, "")
				if r%10 == 0 {
					if err := c.Track("purchase", ctx.TargetingKey, sdk.WithValue(float64(r))); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	closeClient(t, c)
	s := c.EventStats()
	checkBalance(t, s)
	if s.Pending != 0 || s.Dropped != 0 || s.Sent != s.Recorded {
		t.Errorf("stats %+v, want every event sent", s)
	}
	exposed := map[string]bool{}
	tracked := 0
	for _, e := range in.events() {
		switch e.Kind {
		case event.KindExposure:
			exposed[e.Flag+" "+e.Unit] = true
		case event.KindTrack:
			tracked++
		}
	}
	if len(exposed) != 2*units {
		t.Errorf("%d distinct exposures, want %d (each unit to each flag)", len(exposed), 2*units)
	}
	if want := goroutines * rounds / 10; tracked != want {
		t.Errorf("%d track events stored, want %d", tracked, want)
	}
	if int64(len(in.events())) != s.Sent {
		t.Errorf("the intake stored %d events, the client counts %d sent", len(in.events()), s.Sent)
	}
}

func TestADeduplicatedExposureDoesNotAllocate(t *testing.T) {
	in := newIntake(t)
	c := in.client(t)
	ann := &eval.Context{TargetingKey: "ann", Attributes: map[string]any{"accountId": 42}}
	c.Bool("checkout", ann, false)
	c.String("banner", ann, "")
	cases := map[string]func(){
		"on the targeting key":      func() { boolSink = c.BoolDetails("checkout", ann, false) },
		"on a whole-number account": func() { stringSink = c.StringDetails("banner", ann, "") },
	}
	for name, fn := range cases {
		if allocs := testing.AllocsPerRun(1000, fn); allocs != 0 {
			t.Errorf("%s: %v allocations per evaluation, want 0", name, allocs)
		}
	}
	if s := c.EventStats(); s.Recorded != 2 {
		t.Errorf("%d exposures recorded, want 2", s.Recorded)
	}
}

// Whatever an application passes to Track, the client never panics, and it
// either refuses the event as invalid or records one the intake accepts
// (the fake intake fails the test on any invalid batch).
func FuzzTrack(f *testing.F) {
	in := newIntake(f)
	c := in.client(f, sdk.WithEventBufferSize(100_000))
	f.Cleanup(func() {
		closeClient(f, c)
		checkBalance(f, c.EventStats())
	})
	f.Add("purchase", "user-42", 12.5, "plan", "pro")
	f.Add("", "", math.NaN(), "email", "x")
	f.Add("a.b:c-d_e", "u", math.Inf(-1), "", "")
	f.Add("bought it", "ünïcødé", -0.0, "bad name", string(make([]byte, 300)))
	f.Fuzz(func(t *testing.T, name, unit string, value float64, prop, propValue string) {
		err := c.Track(name, unit, sdk.WithValue(value), sdk.WithProperties(map[string]any{prop: propValue, "amount": value}))
		if err != nil && !errors.Is(err, sdk.ErrInvalidEvent) {
			t.Fatalf("Track = %v, want nil or ErrInvalidEvent", err)
		}
	})
}
