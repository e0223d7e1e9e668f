//! Integration tests of bulwark-ingest: exact row counts against independent counts, bad
//! input, duplicates, text formats, and property tests on hostile input.
mod bad_input;
mod evtx_counts;
mod fuzz;
mod json_sets;
mod text_formats;
mod util;
