//! The order service's one binary on AWS. Packaged for Lambda, every function of the
//! template runs it and serves the role its environment names (`EVENTUAL_ROLE`); built with
//! the `cli` feature and run from a terminal, it is the service's CLI, reaching the deployed
//! API function by Lambda invoke:
//!
//! ```text
//! cargo lambda build --release --arm64 -p order-service --features aws --bin order-service-aws --output-format zip
//! cargo build --release -p order-service --features cli --bin order-service-aws
//! target/release/order-service-aws --url lambda://order-service-api list
//! ```

fn main() -> std::process::ExitCode {
    order_service::link();
    eventual_aws::lambda::main()
}
