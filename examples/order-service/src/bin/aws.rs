//! The order service's one binary on AWS. Packaged for Lambda, every function of the
//! template runs it and serves the role its environment names (`EVENTUAL_ROLE`); run from a
//! terminal, it is the service's CLI, reaching the deployed API function by Lambda invoke:
//!
//! ```text
//! cargo lambda build --release -p order-service --features aws --bin order-service-aws --output-format zip
//! order-service-aws --url lambda://order-service-api list
//! ```

fn main() -> std::process::ExitCode {
    order_service::link();
    eventual_aws::cli::main()
}
