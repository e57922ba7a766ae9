//! Order service.
