//! Writes the order service's deploy artifacts into `target/eventual/order-service/`.
//!
//! The build script sees the registry entries of the crates it links, so every crate holding
//! the service's workflows, tasks or handlers is a build-dependency named here with
//! `extern crate` and listed in `emit`; a listed crate with no linked entry fails the build.

extern crate order_service;

fn main() {
    eventual_runtime::build::emit("order-service", &["order_service"]);
}
