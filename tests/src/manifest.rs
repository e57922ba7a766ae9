//! The order service's registrations as `cargo build` reads them, for the tests of the
//! generated artifacts (here and in `eventual-aws`).

use eventual_runtime::api::ApiAuth;
use eventual_runtime::manifest::Inventory;

/// The order service's workflows, tasks, subscriptions and routes.
pub fn order_service() -> Inventory {
    // Named, so that the linker keeps the crate's registrations.
    order_service::link();
    Inventory::linked().of_crate("order_service")
}

/// The order service with `create_order` behind a JWT and its other routes behind SigV4: the
/// template then has the JWT authorizer and its parameters.
pub fn order_service_with_iam_and_jwt_routes() -> Inventory {
    let mut inventory = order_service();
    for route in &mut inventory.routes {
        route.auth = match route.name.as_str() {
            "create_order" => ApiAuth::Jwt,
            _ => ApiAuth::Iam,
        };
    }
    inventory
}
