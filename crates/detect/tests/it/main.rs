//! Integration tests of bulwark-detect (one binary).

mod both_paths;
mod builtin;
mod demo_tenant;
mod kql;
mod sigmahq;
mod spec;
