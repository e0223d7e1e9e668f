//! Built-in analytics.
