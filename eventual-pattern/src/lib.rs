//! Amazon EventBridge event patterns (placeholder until the pattern engine lands).
