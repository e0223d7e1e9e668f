//! Byte-level decoders shared by every language: lenient base64, UTF-16LE / UTF-8 text, and
//! gzip / zlib / raw-deflate with a hard output cap (decompression bombs stop at the cap).

use std::io::Read;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::error::{Error, Result};

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

const LENIENT_URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64 the way .NET's `FromBase64String` tolerates it: whitespace ignored, padding
/// optional; a dangling last character (length 4n+1) is dropped rather than failing.
pub fn base64_lenient(text: &str) -> Result<Vec<u8>> {
    let mut clean: Vec<u8> =
        text.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b'=').collect();
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    LENIENT
        .decode(&clean)
        .or_else(|_| LENIENT_URL.decode(&clean))
        .map_err(|e| Error::Base64(e.to_string()))
}

/// UTF-16LE to text (an odd trailing byte is dropped, bad surrogates replaced).
pub fn utf16le(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units)
}

/// Guesses whether bytes are UTF-16LE text: most odd bytes are zero.
pub fn looks_utf16le(bytes: &[u8]) -> bool {
    if bytes.len() < 4 {
        return false;
    }
    let odd = bytes.iter().skip(1).step_by(2).take(4096).count();
    let zeros = bytes.iter().skip(1).step_by(2).take(4096).filter(|b| **b == 0).count();
    zeros * 10 >= odd * 7
}

/// Bytes to text: UTF-16LE when it looks like it (BOM or zero high bytes), else UTF-8 (lossy).
pub fn bytes_to_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xff, 0xfe]) {
        return utf16le(rest);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    if looks_utf16le(bytes) {
        return utf16le(bytes);
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// Share of characters that are printable text (letters, digits, punctuation, whitespace).
pub fn printable_ratio(text: &str) -> f64 {
    let mut total = 0usize;
    let mut good = 0usize;
    for c in text.chars().take(20_000) {
        total += 1;
        if c == '\n' || c == '\r' || c == '\t' || (!c.is_control() && c != '\u{fffd}') {
            good += 1;
        }
    }
    if total == 0 { 0.0 } else { good as f64 / total as f64 }
}

/// Share of ASCII printable characters, a stricter test used to accept a decoded payload as
/// script text.
pub fn ascii_ratio(text: &str) -> f64 {
    let mut total = 0usize;
    let mut good = 0usize;
    for c in text.chars().take(20_000) {
        total += 1;
        if c == '\n' || c == '\r' || c == '\t' || (' '..='~').contains(&c) {
            good += 1;
        }
    }
    if total == 0 { 0.0 } else { good as f64 / total as f64 }
}

/// Which compressed format the bytes start with, if recognisable.
pub fn compression_of(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x1f, 0x8b, ..] => Some("gzip"),
        [0x78, b, ..] if (u16::from(0x78u8) << 8 | u16::from(*b)) % 31 == 0 => Some("zlib"),
        _ => None,
    }
}

/// Decompresses `format` (`gzip`, `zlib` or `deflate`) up to `cap` bytes. Reaching the cap is an
/// [`Error::Limit`]: the partial output is not returned, since a cut script would mislead.
pub fn decompress(bytes: &[u8], format: &'static str, cap: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let limit = cap as u64 + 1;
    let res = match format {
        "gzip" => flate2::read::MultiGzDecoder::new(bytes).take(limit).read_to_end(&mut out),
        "zlib" => flate2::read::ZlibDecoder::new(bytes).take(limit).read_to_end(&mut out),
        _ => flate2::read::DeflateDecoder::new(bytes).take(limit).read_to_end(&mut out),
    };
    if out.len() > cap {
        return Err(Error::Limit { limit: cap, what: "decompressing" });
    }
    match res {
        Ok(_) => Ok(out),
        // Truncated streams still give useful text; keep what came out.
        Err(_) if !out.is_empty() => Ok(out),
        Err(e) => Err(Error::Decompress { format, message: e.to_string() }),
    }
}

/// Cuts `text` to at most `max` bytes on a char boundary.
pub fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_without_padding_and_with_whitespace() {
        assert_eq!(base64_lenient("aGVs bG8").unwrap(), b"hello");
        assert_eq!(base64_lenient("aGVsbG8=").unwrap(), b"hello");
        assert!(base64_lenient("***").is_err());
    }

    #[test]
    fn bomb_is_capped() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![b'A'; 5_000_000]).unwrap();
        let gz = enc.finish().unwrap();
        assert!(matches!(decompress(&gz, "gzip", 1000), Err(Error::Limit { .. })));
        assert_eq!(decompress(&gz, "gzip", 6_000_000).unwrap().len(), 5_000_000);
    }

    #[test]
    fn utf16_detection() {
        let b: Vec<u8> = "iex 'a'".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert!(looks_utf16le(&b));
        assert_eq!(bytes_to_text(&b), "iex 'a'");
        assert_eq!(bytes_to_text(b"plain"), "plain");
    }
}
