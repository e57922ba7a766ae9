//! Procedural macros of eventual-rs.
