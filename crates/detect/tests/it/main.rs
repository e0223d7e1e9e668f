//! Integration tests of bulwark-detect (one binary).

mod builtin;
mod kql;
mod sigmahq;
mod spec;
