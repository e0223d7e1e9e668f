//! KQL.
/// x
pub fn to_kql() {}
