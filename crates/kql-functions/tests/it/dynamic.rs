//! Dynamic (JSON text) functions and conversions.

use crate::util::{check, check_err};

#[tokio::test]
async fn parse_and_access_dynamic() {
    check(&[
        ("kql_parse_json('{\"a\":1,\"b\":[1,2]}')", "json:{\"a\":1,\"b\":[1,2]}"),
        ("kql_parse_json(' [1, 2] ')", "[1,2]"),
        // A non-JSON string becomes a JSON string.
        ("kql_parse_json('not json')", "\"not json\""),
        ("kql_todynamic('')", "null"),
        ("kql_parse_json('null')", "null"),
        ("kql_get('{\"a\":{\"b\":[10,20]}}', 'a', 'b', 1)", "20"),
        ("kql_get('{\"a\":{\"b\":[10,20]}}', 'a', 'b', -1)", "20"),
        ("kql_get('{\"a\":\"x\"}', 'a')", "\"x\""),
        ("kql_get('{\"a\":1}', 'zz')", "null"),
        ("kql_get('not json', 'a')", "null"),
        ("kql_get('[1,2]', 5)", "null"),
        ("kql_tostring_dynamic('\"x\"')", "x"),
        ("kql_tostring_dynamic(kql_get('{\"a\":{\"b\":2}}', 'a'))", "json:{\"b\":2}"),
        ("kql_array_length('[1,2,3]')", "3"),
        ("kql_array_length('{\"a\":1}')", "null"),
        ("kql_array_length('bad')", "null"),
        ("kql_bag_keys('{\"a\":1,\"b\":2}')", "json:[\"a\",\"b\"]"),
        ("kql_pack('a', 1, 'b', 'x')", "json:{\"a\":1,\"b\":\"x\"}"),
        ("kql_bag_pack('k', '[1,2]', 'ok', true)", "json:{\"k\":[1,2],\"ok\":true}"),
        ("kql_pack_array(1, 'x', true, NULL)", "[1,\"x\",true,null]"),
        ("kql_array_concat('[1,2]', '[3]')", "[1,2,3]"),
        ("kql_array_concat('[1]', '5')", "null"),
        ("kql_set_union('[1,2,3]', '[3,4]')", "[1,2,3,4]"),
        ("kql_set_intersect('[1,2,3]', '[3,2,9]')", "[2,3]"),
        ("kql_bag_merge('{\"a\":1}', '{\"a\":2,\"b\":3}')", "json:{\"a\":1,\"b\":3}"),
    ])
    .await;
    check_err("kql_pack('a')", "key/value pairs").await;
}

#[tokio::test]
async fn conversions_return_null_on_failure() {
    check(&[
        ("kql_tostring(123)", "123"),
        ("kql_tostring(1.5)", "1.5"),
        ("kql_tostring(1.0)", "1"),
        ("kql_tostring(true)", "true"),
        ("kql_tostring(NULL)", ""),
        ("kql_tostring(kql_todatetime('2024-01-01'))", "2024-01-01T00:00:00Z"),
        ("kql_tostring(kql_totimespan('1.02:03:04'))", "1.02:03:04"),
        // Doc (toint / tolong / todouble / tobool).
        ("kql_toint('123')", "123"),
        ("kql_toint('abc')", "null"),
        ("kql_toint(2.7)", "2"),
        ("kql_toint('2147483648')", "null"),
        ("kql_tolong('9223372036854775807')", "9223372036854775807"),
        ("kql_tolong('1.9')", "1"),
        ("kql_tolong(true)", "1"),
        ("kql_todouble('1e3')", "1000"),
        ("kql_todouble('x')", "null"),
        ("kql_toreal('0.5')", "0.5"),
        ("kql_tobool('true')", "true"),
        ("kql_tobool('FALSE')", "false"),
        ("kql_tobool('abc')", "null"),
        ("kql_tobool(0)", "false"),
        ("kql_tobool(123)", "true"),
        (
            "kql_toguid('74BE27DE-1E4E-49D9-B579-FE0B331D3642')",
            "74be27de-1e4e-49d9-b579-fe0b331d3642",
        ),
        ("kql_toguid('nope')", "null"),
        ("kql_iff(true, 1, 2)", "1"),
        ("kql_iif(false, 'a', 'b')", "b"),
        ("kql_iff(NULL, 1, 2)", "2"),
        ("kql_iff(true, 1, 2.5)", "1"),
        ("kql_coalesce(NULL, '', 'x')", "x"),
        ("kql_coalesce(NULL, 5)", "5"),
    ])
    .await;
}
