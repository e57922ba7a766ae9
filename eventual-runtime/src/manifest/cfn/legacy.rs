//! The strangler fig: when the stack's `LegacyBaseUrl` is set, the HTTP API's `$default`
//! route (what no other route matches) proxies to the legacy system, so a service takes over
//! its routes one at a time. The integration keeps the method, query string, headers and body
//! (an `HTTP_PROXY` integration passes them through) and sends the request's own path
//! (`overwrite:path`): an `HTTP_PROXY` integration otherwise calls its URI as written, so the
//! parameter is the legacy system's origin, without a path.

use super::gateway::{route, RouteAuthorization, TIMEOUT_S};
use super::resource::reference;
use super::Resources;
use crate::manifest::names::{condition, id, parameter};
use serde_json::{json, Value};

/// `Conditions`: whether the stack names a legacy system.
pub(super) fn conditions() -> Value {
    json!({
        condition::HAS_LEGACY_BASE_URL: {
            "Fn::Not": [{ "Fn::Equals": [reference(parameter::LEGACY_BASE_URL), ""] }],
        },
    })
}

/// Adds the legacy integration and the `$default` route, both under
/// [`condition::HAS_LEGACY_BASE_URL`].
pub(super) fn add(resources: &mut Resources) {
    resources.insert(
        id::HTTP_API_LEGACY_INTEGRATION.into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Integration",
            "Condition": condition::HAS_LEGACY_BASE_URL,
            "Properties": {
                "ApiId": reference(id::HTTP_API),
                "IntegrationType": "HTTP_PROXY",
                "IntegrationMethod": "ANY",
                "IntegrationUri": reference(parameter::LEGACY_BASE_URL),
                // HTTP integrations take payload format 1.0 only.
                "PayloadFormatVersion": "1.0",
                "RequestParameters": { "overwrite:path": "$request.path" },
                "TimeoutInMillis": TIMEOUT_S * 1000,
            },
        }),
    );
    // The legacy system authorizes its own requests, as it did before the service.
    let mut fallback = route(
        "$default",
        RouteAuthorization::None,
        id::HTTP_API_LEGACY_INTEGRATION,
    );
    fallback["Condition"] = json!(condition::HAS_LEGACY_BASE_URL);
    resources.insert(id::HTTP_API_LEGACY_ROUTE.into(), fallback);
}
