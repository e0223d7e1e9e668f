//! String operators and functions.

use crate::util::{check, check_err, column, ctx};
use datafusion::arrow::array::{LargeStringArray, RecordBatch, StringViewArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use std::sync::Arc;

#[tokio::test]
async fn has_family_matches_whole_terms() {
    check(&[
        // Doc (has operator): "North America" has "america" -> true.
        ("kql_has('North America', 'america')", "true"),
        ("kql_has('North America', 'NORTH')", "true"),
        // A partial term is not a match for `has` ...
        ("kql_has('North America', 'amer')", "false"),
        // ... but is for `contains`.
        ("kql_contains('North America', 'amer')", "true"),
        ("kql_has_cs('North America', 'north')", "false"),
        ("kql_has_cs('North America', 'North')", "true"),
        ("kql_has('abc-def.ghi', 'def')", "true"),
        ("kql_has('abc-def.ghi', 'abc-def')", "true"),
        // Needle with punctuation must still start/end on term boundaries.
        ("kql_has('abc-def.ghi', 'c-d')", "false"),
        ("kql_has('foo123bar', '123')", "false"),
        ("kql_has('user=admin;', 'admin')", "true"),
        ("kql_has('', 'a')", "false"),
        ("kql_has(NULL, 'a')", "false"),
        ("kql_has('Straße Köln', 'KÖLN')", "true"),
        ("kql_hasprefix('North America', 'ame')", "true"),
        ("kql_hasprefix('North America', 'mer')", "false"),
        ("kql_hasprefix_cs('North America', 'nor')", "false"),
        ("kql_hasprefix_cs('North America', 'Nor')", "true"),
        ("kql_hassuffix('North America', 'ICA')", "true"),
        ("kql_hassuffix('North America', 'Ame')", "false"),
        ("kql_hassuffix_cs('North America', 'ICA')", "false"),
        ("kql_contains('North America', 'RTH')", "true"),
        ("kql_contains_cs('North America', 'RTH')", "false"),
        ("kql_startswith('North America', 'nor')", "true"),
        ("kql_startswith_cs('North America', 'nor')", "false"),
        ("kql_endswith('North America', 'ICA')", "true"),
        ("kql_endswith_cs('North America', 'ICA')", "false"),
        ("kql_has_any('The quick brown fox', 'cat', 'FOX')", "true"),
        ("kql_has_any('The quick brown fox', '[\"cat\",\"dog\"]')", "false"),
        ("kql_has_any('The quick brown fox', '[\"cat\",\"brown\"]')", "true"),
        ("kql_has_all('The quick brown fox', 'quick', 'fox')", "true"),
        ("kql_has_all('The quick brown fox', 'quick', 'cat')", "false"),
        ("kql_equals_ci('ABC', 'abc')", "true"),
        ("kql_equals_ci('ABC', 'abd')", "false"),
        ("kql_in_ci('Abc', 'x', 'ABC')", "true"),
        ("kql_in_ci('abc', '[\"X\",\"Y\"]')", "false"),
        ("kql_matches_regex('abc123', '[0-9]+')", "true"),
        ("kql_matches_regex('abc', '^b')", "false"),
    ])
    .await;
}

#[tokio::test]
async fn string_functions_follow_kql_examples() {
    check(&[
        ("kql_strcat('a', NULL, 'b', 1)", "ab1"),
        ("kql_strcat_delim('-', 'a', 'b', 'c')", "a-b-c"),
        ("kql_strlen('hello')", "5"),
        ("kql_strlen('Köln')", "4"),
        ("kql_strlen(NULL)", "0"),
        // Doc (substring): examples.
        ("kql_substring('123456', 1, 1)", "2"),
        ("kql_substring('123456', 2, 2)", "34"),
        ("kql_substring('ABCD', 0, 2)", "AB"),
        ("kql_substring('123456', -2, 2)", "56"),
        ("kql_substring('abc', 5)", ""),
        ("kql_substring('abc', 1)", "bc"),
        // Doc (split).
        ("kql_split('aaa_bbb_ccc', '_')", "[\"aaa\",\"bbb\",\"ccc\"]"),
        ("kql_split('aa_bb', '_', 1)", "[\"bb\"]"),
        ("kql_split('aaa_bbb_ccc', '_', 5)", "[]"),
        ("kql_split('abc', '')", "[\"abc\"]"),
        // Doc (replace_string).
        (
            "kql_replace_string('A magic trick can turn a cat into a dog', 'cat', 'hamster')",
            "A magic trick can turn a hamster into a dog",
        ),
        ("kql_replace_regex('Number was: 5', 'was: ([0-9]+)', 'is: \\1')", "Number is: 5"),
        ("kql_replace_regex('a1', '1', '$0')", "a$0"),
        // Doc (extract): x=([0-9.]+) on "hello x=45.6|wo".
        ("kql_extract('x=([0-9.]+)', 1, 'hello x=45.6|wo')", "45.6"),
        ("kql_extract('x=([0-9.]+)', 0, 'hello x=45.6|wo')", "x=45.6"),
        ("kql_extract('x=([0-9.]+)', 1, 'nothing')", ""),
        // Doc (extract_all): three groups -> array of arrays.
        (
            "kql_extract_all('(\\w)(\\w+)(\\w)', 'The quick brown fox')",
            "json:[[\"T\",\"h\",\"e\"],[\"q\",\"uic\",\"k\"],[\"b\",\"row\",\"n\"],[\"f\",\"o\",\"x\"]]",
        ),
        ("kql_extract_all('([a-z]+)', 'ab 12 cd')", "json:[\"ab\",\"cd\"]"),
        ("kql_extract_all('(\\w)(\\w+)(\\w)', '[1,3]', 'The fox')", "json:[[\"T\",\"e\"],[\"f\",\"x\"]]"),
        ("kql_extract_all('([0-9]+)', 'none')", "null"),
        // Doc (trim).
        ("kql_trim('--', '--https://bing.com--')", "https://bing.com"),
        ("kql_trim_start('[^a-z]+', '123abc')", "abc"),
        ("kql_trim_end('[ ]+', 'abc   ')", "abc"),
        // Doc (indexof).
        ("kql_indexof('abcdefg', 'cde')", "2"),
        ("kql_indexof('abcdefg', 'cde', 1, 4)", "2"),
        ("kql_indexof('abcdefg', 'cde', 1, 2)", "-1"),
        ("kql_indexof('abcdefg', 'cde', 3, 4)", "-1"),
        ("kql_indexof('abcdefg', 'cde', 1, -1)", "2"),
        ("kql_indexof('abcdefg', 'cde', -1)", "null"),
        ("kql_indexof('abcdefgabcdefg', 'cde', 1, -1, 3)", "-1"),
        ("kql_indexof('abcdefgabcdefg', 'cde', 1, -1, 2)", "9"),
        ("kql_indexof('ñabc', 'abc')", "1"),
        // Doc (countof).
        ("kql_countof('aaa', 'a')", "3"),
        ("kql_countof('aaaa', 'aa')", "3"),
        ("kql_countof('ababa', 'ab', 'normal')", "2"),
        ("kql_countof('ababa', 'aba')", "2"),
        ("kql_countof('ababa', 'aba', 'regex')", "1"),
        ("kql_countof('abcabc', 'a.c', 'regex')", "2"),
        ("kql_tolower('ABC')", "abc"),
        ("kql_toupper('abc')", "ABC"),
        ("kql_reverse('abc')", "cba"),
        // Doc (url_encode_component / url_decode).
        ("kql_url_encode('https://www.bing.com/')", "https%3a%2f%2fwww.bing.com%2f"),
        ("kql_url_decode('https%3a%2f%2fwww.bing.com%2f')", "https://www.bing.com/"),
        ("kql_url_decode('%zz')", "null"),
        // Doc (base64_encode_tostring / base64_decode_tostring).
        ("kql_base64_encode_tostring('Kusto')", "S3VzdG8="),
        ("kql_base64_decode_tostring('S3VzdG8=')", "Kusto"),
        ("kql_base64_decode_tostring('not base64!')", "null"),
        // Doc (hash_md5 / hash_sha1 / hash_sha256 of "World").
        ("kql_hash_md5('World')", "f5a7924e621e84c9280a9a27e1bcb7f6"),
        ("kql_hash_sha1('World')", "70c07ec18ef89c5309bbb0937f3a6342411e1fdd"),
        ("kql_hash_sha256('World')", "78ae647dc5544d227130a0682a51e30bc7777fbb6d8a8f17007463a3ecd1d524"),
        // Doc (hash / hash_xxhash64): "World" -> 1846988464401551951, mod 100 -> 51.
        ("kql_hash('World')", "1846988464401551951"),
        ("kql_hash('World', 100)", "51"),
        ("kql_hash(kql_todatetime('2015-01-01'))", "1380966698541616202"),
        ("kql_hash_xxhash64('World')", "1846988464401551951"),
        // Doc (strrep).
        ("kql_strrep('ABC', 2)", "ABCABC"),
        ("kql_strrep('ABC', 2, '.')", "ABC.ABC"),
        ("kql_strrep(123, 3, ' ')", "123 123 123"),
        ("kql_isempty('')", "true"),
        ("kql_isempty(NULL)", "true"),
        ("kql_isempty('a')", "false"),
        ("kql_isnotempty('a')", "true"),
        ("kql_isnotempty(NULL)", "false"),
    ])
    .await;
}

#[tokio::test]
async fn invalid_regex_is_a_clear_error() {
    check_err("kql_matches_regex('a', '(')", "invalid regular expression").await;
    check_err("kql_extract('[', 1, 'a')", "invalid regular expression").await;
    check_err("kql_countof('a', 'a', 'fuzzy')", "kind must be").await;
    check_err("kql_has('a')", "expects between 2 and 2 arguments").await;
}

#[tokio::test]
async fn view_and_large_strings_are_accepted() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("v", DataType::Utf8View, true),
        Field::new("l", DataType::LargeUtf8, true),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringViewArray::from(vec![Some("Failed logon for admin"), None, Some("ok")])),
            Arc::new(LargeStringArray::from(vec![
                Some("x.exe"),
                Some("powershell -enc AAA"),
                None,
            ])),
        ],
    )
    .expect("batch");
    let ctx = ctx();
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![vec![batch]]).expect("mem")))
        .expect("register");
    let has = column(&ctx, "SELECT kql_has(v, 'logon') FROM t").await.expect("query");
    assert_eq!(has, ["true", "false", "false"]);
    let any = column(&ctx, "SELECT kql_has_any(l, '-enc', 'x') FROM t").await.expect("query");
    assert_eq!(any, ["true", "true", "false"]);
    let len = column(&ctx, "SELECT kql_strlen(v) FROM t").await.expect("query");
    assert_eq!(len, ["22", "0", "2"]);
    let up = column(&ctx, "SELECT kql_toupper(l) FROM t").await.expect("query");
    assert_eq!(up, ["X.EXE", "POWERSHELL -ENC AAA", ""]);
}
