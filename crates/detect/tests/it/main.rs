//! Integration tests of bulwark-detect (one binary).

mod sigmahq;
