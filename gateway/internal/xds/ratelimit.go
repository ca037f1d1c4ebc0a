package xds

import (
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	localratelimit "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	envoytype "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sentryagent/agentidp/gateway/internal/topology"
)

// localRateLimitFilter caps each client address on the routes that carry
// a per-client-address limit (catalog.Route.Limit), before any other
// filter or service spends anything on the request.
const localRateLimitFilter = "envoy.filters.http.local_ratelimit"

// maxSources bounds the client addresses whose buckets an Envoy keeps per
// limited route (an LRU: an address pushed out starts again with a full
// bucket, so this is the number of attackers whose limits can be tracked
// at once; ~100 bytes each).
const maxSources = 100_000

// localRateLimitHTTPFilter is the filter in the chain. Without a token
// bucket of its own it limits nothing: routes switch it on (routeLimit).
func localRateLimitHTTPFilter() *hcm.HttpFilter {
	return &hcm.HttpFilter{
		Name: localRateLimitFilter,
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(&localratelimit.LocalRateLimit{
			StatPrefix: "per_source",
		})},
	}
}

// routeLimit is a route's per-client-address limit: one token bucket per
// client address (a wildcard descriptor on the masked remote address,
// which with use_remote_address is the peer Envoy saw; an IPv6 address
// counts by its /64), enforced on every request, answered with 429 and
// Retry-After (rendered in the API's error shape by localReplyConfig).
func routeLimit(l topology.Limit) *anypb.Any {
	bucket := func() *envoytype.TokenBucket {
		return &envoytype.TokenBucket{
			MaxTokens:     uint32(l.Burst),
			TokensPerFill: wrapperspb.UInt32(uint32(l.PerSecond)),
			FillInterval:  durationpb.New(time.Second),
		}
	}
	all := func(key string) *core.RuntimeFractionalPercent {
		return &core.RuntimeFractionalPercent{
			RuntimeKey:   key,
			DefaultValue: &envoytype.FractionalPercent{Numerator: 100, Denominator: envoytype.FractionalPercent_HUNDRED},
		}
	}
	return mustAny(&localratelimit.LocalRateLimit{
		StatPrefix: "per_source",
		// Required on a route; used only by a request that matches no
		// descriptor, and every request has an address.
		TokenBucket:                     bucket(),
		AlwaysConsumeDefaultTokenBucket: wrapperspb.Bool(false),
		FilterEnabled:                   all("per_source_rate_limit_enabled"),
		FilterEnforced:                  all("per_source_rate_limit_enforced"),
		RateLimits: []*route.RateLimit{{Actions: []*route.RateLimit_Action{{
			ActionSpecifier: &route.RateLimit_Action_MaskedRemoteAddress_{MaskedRemoteAddress: &route.RateLimit_Action_MaskedRemoteAddress{
				V4PrefixMaskLen: wrapperspb.UInt32(32),
				V6PrefixMaskLen: wrapperspb.UInt32(64),
			}},
		}}}},
		Descriptors: []*ratelimitv3.LocalRateLimitDescriptor{{
			// No value: a bucket per distinct address.
			Entries:     []*ratelimitv3.RateLimitDescriptor_Entry{{Key: "masked_remote_address"}},
			TokenBucket: bucket(),
		}},
		MaxDynamicDescriptors:  wrapperspb.UInt32(maxSources),
		EnableRetryAfterHeader: true,
		ResponseHeadersToAdd: []*core.HeaderValueOption{{
			Header:       &core.HeaderValue{Key: "cache-control", Value: "no-store"},
			AppendAction: core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}},
	})
}
