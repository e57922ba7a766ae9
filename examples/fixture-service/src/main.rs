//! Test fixture: the service binary (its artifacts come from `build.rs`).

fn main() {
    fixture_app::link();
    fixture_handlers::link();
}
