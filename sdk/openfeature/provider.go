// Package openfeature is the OpenFeature provider of Weir's Go SDK: it
// lets applications written against the OpenFeature Go SDK
// (github.com/open-feature/go-sdk) evaluate Weir flags locally through an
// sdk.Client.
//
// Reasons and error codes are OpenFeature's own (Weir uses their names),
// evaluations before the first snapshot report PROVIDER_NOT_READY, and the
// client's changes become provider events: READY, CONFIGURATION_CHANGED,
// STALE and ERROR. The provider is an OpenFeature Tracker: Track records
// metric events through the client, which also records the exposures of
// evaluations served by experiments and guarded rollouts.
package openfeature

import (
	"context"
	"math"
	"sync"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/sdk"
)

// Provider is an OpenFeature provider over an sdk.Client. It owns the
// client: Shutdown closes it.
type Provider struct {
	client *sdk.Client
	events chan of.Event
	remove func()
	once   sync.Once
}

// eventBuffer bounds the provider's event queue. The OpenFeature SDK reads
// it continuously; should it fall this far behind, further events are
// dropped rather than block the client's sync goroutine (a later status
// or configuration event supersedes them).
const eventBuffer = 64

// NewProvider returns a provider evaluating through client.
func NewProvider(client *sdk.Client) *Provider {
	p := &Provider{client: client, events: make(chan of.Event, eventBuffer)}
	p.remove = client.OnChange(p.onChange)
	return p
}

var (
	_ of.FeatureProvider          = (*Provider)(nil)
	_ of.EventHandler             = (*Provider)(nil)
	_ of.ContextAwareStateHandler = (*Provider)(nil)
	_ of.Tracker                  = (*Provider)(nil)
)

// Metadata names the provider.
func (p *Provider) Metadata() of.Metadata { return of.Metadata{Name: "weir"} }

// Hooks returns no hooks.
func (p *Provider) Hooks() []of.Hook { return nil }

// EventChannel delivers provider events to the OpenFeature SDK.
func (p *Provider) EventChannel() <-chan of.Event { return p.events }

// Init waits for the client's first snapshot without a deadline; the
// OpenFeature SDK calls it in the background unless the application waits
// with SetProviderAndWait. Prefer InitWithContext's deadline.
func (p *Provider) Init(of.EvaluationContext) error {
	return p.client.WaitReady(context.Background())
}

// InitWithContext waits for the client's first snapshot until ctx is done.
// A provider that timed out becomes READY when a snapshot arrives later.
func (p *Provider) InitWithContext(ctx context.Context, _ of.EvaluationContext) error {
	return p.client.WaitReady(ctx)
}

// Shutdown closes the client, which sends the events it still holds for
// up to sdk.DefaultCloseTimeout.
func (p *Provider) Shutdown() { _ = p.ShutdownWithContext(context.Background()) }

// ShutdownWithContext closes the client, which sends the events it still
// holds until ctx is done (see sdk.Client.Close).
func (p *Provider) ShutdownWithContext(ctx context.Context) error {
	var err error
	p.once.Do(func() {
		p.remove()
		err = p.client.Close(ctx)
	})
	return err
}

// Track records a metric event through the client (sdk.Client.Track): the
// tracking event's name, the evaluation context's targeting key as the
// unit, and the details' value and attributes as the event's value and
// properties. OpenFeature's details cannot tell a value of 0 from no value,
// so a 0 is sent as no value. Track never blocks. An event the client
// refuses — no targeting key, an invalid name or attribute — is counted in
// the client's EventStats (Invalid, or Dropped when the buffer is full).
func (p *Provider) Track(_ context.Context, name string, ec of.EvaluationContext, details of.TrackingEventDetails) {
	var opts []sdk.TrackOption
	if v := details.Value(); v != 0 {
		opts = append(opts, sdk.WithValue(v))
	}
	if attrs := details.Attributes(); len(attrs) > 0 {
		opts = append(opts, sdk.WithProperties(attrs))
	}
	_ = p.client.Track(name, ec.TargetingKey(), opts...)
}

func (p *Provider) onChange(ch sdk.Change) {
	ev := of.Event{ProviderName: "weir"}
	switch {
	case ch.Kind == sdk.ChangeSnapshot:
		ev.EventType = of.ProviderConfigChange
		ev.Message = "new flag configuration"
	case ch.Status == sdk.StatusReady:
		ev.EventType = of.ProviderReady
	case ch.Status == sdk.StatusStale:
		ev.EventType = of.ProviderStale
	case ch.Status == sdk.StatusError:
		ev.EventType = of.ProviderError
		ev.ErrorCode = of.ProviderFatalCode
	default:
		return
	}
	if ch.Err != nil {
		ev.Message = ch.Err.Error()
	}
	select {
	case p.events <- ev:
	default:
	}
}

// evalContext turns OpenFeature's flattened context into Weir's; the
// targeting key is its "targetingKey" entry.
func evalContext(flat of.FlattenedContext) eval.Context {
	return eval.NewContext(flat)
}

// detail maps a Weir result to OpenFeature's resolution details.
func detail(r *eval.Result, notReady bool) of.ProviderResolutionDetail {
	d := of.ProviderResolutionDetail{Reason: of.Reason(r.Reason.String()), Variant: r.Variant}
	if r.Version != 0 || r.RuleID != "" {
		d.FlagMetadata = of.FlagMetadata{}
		if r.Version != 0 {
			d.FlagMetadata["flagVersion"] = r.Version
		}
		if r.RuleID != "" {
			d.FlagMetadata["ruleId"] = r.RuleID
		}
	}
	if !r.IsError() {
		return d
	}
	msg := r.ErrorMessage
	switch {
	case notReady:
		d.ResolutionError = of.NewProviderNotReadyResolutionError(msg)
	case r.ErrorCode == eval.ErrorFlagNotFound:
		d.ResolutionError = of.NewFlagNotFoundResolutionError(msg)
	case r.ErrorCode == eval.ErrorTypeMismatch:
		d.ResolutionError = of.NewTypeMismatchResolutionError(msg)
	case r.ErrorCode == eval.ErrorTargetingKeyMissing:
		d.ResolutionError = of.NewTargetingKeyMissingResolutionError(msg)
	case r.ErrorCode == eval.ErrorParse:
		d.ResolutionError = of.NewParseErrorResolutionError(msg)
	default:
		d.ResolutionError = of.NewGeneralResolutionError(msg)
	}
	return d
}

// BooleanEvaluation evaluates a boolean flag.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, def bool, flat of.FlattenedContext) of.BoolResolutionDetail {
	ec := evalContext(flat)
	d := p.client.BoolDetails(flag, &ec, def)
	return of.BoolResolutionDetail{Value: d.Value, ProviderResolutionDetail: detail(&d.Result, d.NotReady())}
}

// StringEvaluation evaluates a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, def string, flat of.FlattenedContext) of.StringResolutionDetail {
	ec := evalContext(flat)
	d := p.client.StringDetails(flag, &ec, def)
	return of.StringResolutionDetail{Value: d.Value, ProviderResolutionDetail: detail(&d.Result, d.NotReady())}
}

// FloatEvaluation evaluates a number flag.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, def float64, flat of.FlattenedContext) of.FloatResolutionDetail {
	ec := evalContext(flat)
	d := p.client.NumberDetails(flag, &ec, def)
	return of.FloatResolutionDetail{Value: d.Value, ProviderResolutionDetail: detail(&d.Result, d.NotReady())}
}

// IntEvaluation evaluates a number flag whose value must be an integer in
// int64's range; any other number is a TYPE_MISMATCH.
func (p *Provider) IntEvaluation(_ context.Context, flag string, def int64, flat of.FlattenedContext) of.IntResolutionDetail {
	ec := evalContext(flat)
	d := p.client.NumberDetails(flag, &ec, float64(def))
	out := of.IntResolutionDetail{Value: def, ProviderResolutionDetail: detail(&d.Result, d.NotReady())}
	if d.IsError() || d.Result.Value == nil {
		return out
	}
	f := d.Value
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		out.Reason = of.ErrorReason
		out.ResolutionError = of.NewTypeMismatchResolutionError("flag value is not an integer")
		return out
	}
	out.Value = int64(f)
	return out
}

// ObjectEvaluation evaluates an object flag. The value is shared by every
// evaluation: do not modify it.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, def any, flat of.FlattenedContext) of.InterfaceResolutionDetail {
	ec := evalContext(flat)
	d := p.client.ObjectDetails(flag, &ec, def)
	return of.InterfaceResolutionDetail{Value: d.Value, ProviderResolutionDetail: detail(&d.Result, d.NotReady())}
}
