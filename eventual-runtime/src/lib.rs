//! eventual-rs runtime.

/// Amazon EventBridge event patterns.
pub use eventual_pattern as pattern;
