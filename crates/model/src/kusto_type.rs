//! Kusto's scalar types and their Arrow representation.
//!
//! Arrow has no JSON type, so `dynamic` columns hold JSON text (Utf8) and carry their Kusto type
//! in field metadata; the KQL engine parses them on access. `datetime` is UTC nanoseconds
//! (Kusto's own resolution is 100 ns ticks, which fits).
use arrow::datatypes::{DataType, TimeUnit};
use std::fmt;

/// A Kusto scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KustoType {
    /// `bool`
    Bool,
    /// `int` (32-bit)
    Int,
    /// `long` (64-bit)
    Long,
    /// `real` (64-bit float)
    Real,
    /// `decimal` (stored as a 64-bit float)
    Decimal,
    /// `string`
    String,
    /// `guid` (stored as its canonical string)
    Guid,
    /// `datetime` (UTC)
    DateTime,
    /// `timespan`
    TimeSpan,
    /// `dynamic` (JSON value, stored as JSON text)
    Dynamic,
}

impl KustoType {
    /// All types, in the order they are documented.
    pub const ALL: [KustoType; 10] = [
        KustoType::Bool,
        KustoType::Int,
        KustoType::Long,
        KustoType::Real,
        KustoType::Decimal,
        KustoType::String,
        KustoType::Guid,
        KustoType::DateTime,
        KustoType::TimeSpan,
        KustoType::Dynamic,
    ];

    /// The accepted spellings, for error messages.
    pub const EXPECTED: &'static str =
        "bool, int, long, real, decimal, string, guid, datetime, timespan, dynamic";

    /// Kusto's canonical name for the type.
    pub fn name(self) -> &'static str {
        match self {
            KustoType::Bool => "bool",
            KustoType::Int => "int",
            KustoType::Long => "long",
            KustoType::Real => "real",
            KustoType::Decimal => "decimal",
            KustoType::String => "string",
            KustoType::Guid => "guid",
            KustoType::DateTime => "datetime",
            KustoType::TimeSpan => "timespan",
            KustoType::Dynamic => "dynamic",
        }
    }

    /// Parses a type name, accepting Kusto's aliases (`boolean`, `int64`, `double`, `date`, …)
    /// case-insensitively.
    pub fn parse(name: &str) -> Option<KustoType> {
        let lower = name.trim().to_ascii_lowercase();
        Some(match lower.as_str() {
            "bool" | "boolean" | "sbyte" => KustoType::Bool,
            "int" | "int32" | "integer" => KustoType::Int,
            "long" | "int64" | "bigint" => KustoType::Long,
            "real" | "double" | "float" => KustoType::Real,
            "decimal" => KustoType::Decimal,
            "string" | "uri" => KustoType::String,
            "guid" | "uuid" | "uniqueid" => KustoType::Guid,
            "datetime" | "date" | "date/time" => KustoType::DateTime,
            "timespan" | "time" => KustoType::TimeSpan,
            "dynamic" | "object" => KustoType::Dynamic,
            _ => return None,
        })
    }

    /// The Arrow type columns of this Kusto type are stored as.
    pub fn arrow_type(self) -> DataType {
        match self {
            KustoType::Bool => DataType::Boolean,
            KustoType::Int => DataType::Int32,
            KustoType::Long => DataType::Int64,
            KustoType::Real | KustoType::Decimal => DataType::Float64,
            KustoType::String | KustoType::Guid | KustoType::Dynamic => DataType::Utf8,
            KustoType::DateTime => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            KustoType::TimeSpan => DataType::Duration(TimeUnit::Nanosecond),
        }
    }

    /// The Kusto type an Arrow type reads as, for columns that carry no Kusto metadata
    /// (e.g. computed by a query).
    pub fn from_arrow(ty: &DataType) -> KustoType {
        match ty {
            DataType::Boolean => KustoType::Bool,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::UInt8
            | DataType::UInt16 => KustoType::Int,
            DataType::Int64 | DataType::UInt32 | DataType::UInt64 => KustoType::Long,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => KustoType::Real,
            DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => KustoType::Decimal,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => KustoType::DateTime,
            DataType::Duration(..) | DataType::Interval(..) => KustoType::TimeSpan,
            DataType::List(..)
            | DataType::LargeList(..)
            | DataType::FixedSizeList(..)
            | DataType::Struct(..)
            | DataType::Map(..) => KustoType::Dynamic,
            _ => KustoType::String,
        }
    }
}

impl fmt::Display for KustoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_name() {
        for ty in KustoType::ALL {
            assert_eq!(KustoType::parse(ty.name()), Some(ty));
        }
    }

    #[test]
    fn aliases_are_accepted_and_garbage_is_not() {
        assert_eq!(KustoType::parse(" Boolean "), Some(KustoType::Bool));
        assert_eq!(KustoType::parse("bigint"), Some(KustoType::Long));
        assert_eq!(KustoType::parse("double"), Some(KustoType::Real));
        assert_eq!(KustoType::parse("varchar"), None);
    }

    #[test]
    fn arrow_types_read_back_as_the_same_kusto_type() {
        for ty in KustoType::ALL {
            let back = KustoType::from_arrow(&ty.arrow_type());
            let expected = match ty {
                KustoType::Guid | KustoType::Dynamic => KustoType::String,
                KustoType::Decimal => KustoType::Real,
                other => other,
            };
            assert_eq!(back, expected, "{ty}");
        }
    }
}
