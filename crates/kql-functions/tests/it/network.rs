//! IP, URL and path functions.

use crate::util::check;

#[tokio::test]
async fn ipv4_functions() {
    check(&[
        // Doc (ipv4_is_private).
        ("kql_ipv4_is_private('192.168.1.1')", "true"),
        ("kql_ipv4_is_private('10.1.2.3')", "true"),
        ("kql_ipv4_is_private('172.16.0.1')", "true"),
        ("kql_ipv4_is_private('172.32.0.1')", "false"),
        ("kql_ipv4_is_private('8.8.8.8')", "false"),
        ("kql_ipv4_is_private('192.168.1.1/24')", "true"),
        ("kql_ipv4_is_private('bad')", "null"),
        // Doc (ipv4_is_in_range).
        ("kql_ipv4_is_in_range('192.168.1.6', '192.168.1.1/24')", "true"),
        ("kql_ipv4_is_in_range('192.168.1.1', '192.168.2.1/24')", "false"),
        ("kql_ipv4_is_in_range('192.168.1.1', '192.168.1.1')", "true"),
        ("kql_ipv4_is_in_range('bad', '10.0.0.0/8')", "null"),
        ("kql_ipv4_is_in_range('10.0.0.1', '10.0.0.0/33')", "null"),
        ("kql_ipv4_is_in_any_range('10.1.1.1', '[\"192.168.0.0/16\",\"10.0.0.0/8\"]')", "true"),
        // Doc (ipv4_compare).
        ("kql_ipv4_compare('127.0.0.1', '127.0.0.1')", "0"),
        ("kql_ipv4_compare('192.168.1.1', '192.168.1.255')", "-1"),
        ("kql_ipv4_compare('192.168.1.255', '192.168.1.1')", "1"),
        ("kql_ipv4_compare('192.168.1.1/24', '192.168.1.255/24')", "0"),
        ("kql_ipv4_compare('192.168.1.1', '192.168.1.255', 24)", "0"),
        ("kql_ipv4_is_match('192.168.1.1/24', '192.168.1.255/24')", "true"),
        ("kql_ipv4_is_match('192.168.1.1', '192.168.1.255')", "false"),
        // Doc (parse_ipv4 / parse_ipv4_mask).
        ("kql_parse_ipv4('127.0.0.1')", "2130706433"),
        ("kql_parse_ipv4('192.1.168.1')", "3221334017"),
        ("kql_parse_ipv4('192.1.168.1/24')", "3221334016"),
        ("kql_parse_ipv4('256.0.0.1')", "null"),
        ("kql_parse_ipv4_mask('10.217.101.9', 24)", "182019328"),
        ("kql_parse_ipv4_mask('10.217.101.9', 40)", "null"),
    ])
    .await;
}

#[tokio::test]
async fn ipv6_url_path() {
    check(&[
        ("kql_ipv6_compare('::ffff:7f00:1', '127.0.0.1')", "0"),
        ("kql_ipv6_compare('fe80::85d:e82c:9446:7994', 'fe80::85d:e82c:9446:7995')", "-1"),
        ("kql_ipv6_compare('fe80::85d:e82c:9446:7994', 'fe80::85d:e82c:9446:7995', 127)", "0"),
        ("kql_ipv6_is_match('fe80::85d:e82c:9446:7994/127', 'fe80::85d:e82c:9446:7995/127')", "true"),
        ("kql_ipv6_is_match('fe80::1', 'fe80::2')", "false"),
        ("kql_ipv6_compare('bad', '::1')", "null"),
        // Doc (parse_url).
        (
            "kql_parse_url('scheme://username:password@host:1234/this/is/a/path?k1=v1&k2=v2#fragment')",
            "json:{\"Scheme\":\"scheme\",\"Host\":\"host\",\"Port\":\"1234\",\"Path\":\"/this/is/a/path\",\"Username\":\"username\",\"Password\":\"password\",\"Query Parameters\":{\"k1\":\"v1\",\"k2\":\"v2\"},\"Fragment\":\"fragment\"}",
        ),
        (
            "kql_get(kql_parse_url('https://contoso.com/a?x=1'), 'Host')",
            "\"contoso.com\"",
        ),
        ("kql_get(kql_parse_url('not a url'), 'Host')", "\"\""),
        // Doc (parse_path).
        (
            "kql_parse_path('C:\\temp\\file.txt')",
            "json:{\"Scheme\":\"\",\"RootPath\":\"C:\",\"DirectoryPath\":\"C:\\\\temp\",\"DirectoryName\":\"temp\",\"Filename\":\"file.txt\",\"Extension\":\"txt\",\"AlternateDataStreamName\":\"\"}",
        ),
        (
            "kql_parse_path('https://storage.blob.core.windows.net/ctr/folder/file.txt')",
            "json:{\"Scheme\":\"https\",\"RootPath\":\"storage.blob.core.windows.net\",\"DirectoryPath\":\"https://storage.blob.core.windows.net/ctr/folder\",\"DirectoryName\":\"folder\",\"Filename\":\"file.txt\",\"Extension\":\"txt\",\"AlternateDataStreamName\":\"\"}",
        ),
        (
            "kql_parse_path('/usr/lib/file.txt')",
            "json:{\"Scheme\":\"\",\"RootPath\":\"\",\"DirectoryPath\":\"/usr/lib\",\"DirectoryName\":\"lib\",\"Filename\":\"file.txt\",\"Extension\":\"txt\",\"AlternateDataStreamName\":\"\"}",
        ),
        ("kql_geo_info_from_ip_address('20.53.203.50')", "{}"),
    ])
    .await;
}
