//! Integration tests of the copilot: NL→KQL accuracy on the pairs in `tests/data`, and
//! questions over a generated demo tenant checked against its ground truth.
mod eval;
mod llm;
mod nl2kql;
mod openai_wire;
mod tenant;
