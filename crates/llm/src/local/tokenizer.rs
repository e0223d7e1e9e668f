//! The local model's tokenizer: a `tokenizer.json` beside the GGUF file when there is one,
//! otherwise a byte-level BPE rebuilt from the GGUF metadata (`tokenizer.ggml.tokens`,
//! `tokenizer.ggml.merges`, `tokenizer.ggml.token_type`, `tokenizer.ggml.pre`).
//!
//! The rebuilt tokenizer is expressed as a Hugging Face `tokenizer.json` document and loaded
//! through the same deserializer, so both paths end in the same, well-tested code.
use crate::{Error, Result};
use candle_core::quantized::gguf_file::Value as GgufValue;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::Path;
use tokenizers::Tokenizer;

/// GGUF token type of control tokens (`<|im_start|>`, `<|eot_id|>`, …).
const TOKEN_TYPE_CONTROL: i64 = 3;
/// GGUF token type of user-defined added tokens.
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// Qwen2's pre-tokenizer split (from its `tokenizer.json`).
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's pre-tokenizer split (digits in groups of up to three).
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Loads `tokenizer.json` from `path`.
pub(crate) fn from_file(path: &Path) -> Result<Tokenizer> {
    Tokenizer::from_file(path).map_err(|e| Error::Model(format!("{}: {e}", path.display())))
}

/// Rebuilds the tokenizer from GGUF metadata.
pub(crate) fn from_gguf(metadata: &HashMap<String, GgufValue>) -> Result<Tokenizer> {
    let document = gguf_tokenizer_json(metadata)?;
    let text = document.to_string();
    Tokenizer::from_bytes(text.as_bytes())
        .map_err(|e| Error::Model(format!("tokenizer from GGUF metadata: {e}")))
}

/// The `tokenizer.json` document equivalent to the GGUF metadata.
fn gguf_tokenizer_json(metadata: &HashMap<String, GgufValue>) -> Result<Value> {
    let kind = string(metadata, "tokenizer.ggml.model").unwrap_or("gpt2");
    if kind != "gpt2" {
        return Err(Error::Model(format!(
            "tokenizer kind `{kind}` is not supported from GGUF metadata (only byte-level BPE, \
             `gpt2`); put the model's tokenizer.json beside the GGUF file"
        )));
    }
    let tokens = strings(metadata, "tokenizer.ggml.tokens")?;
    let merges = strings(metadata, "tokenizer.ggml.merges")?;
    let types: Vec<i64> = match metadata.get("tokenizer.ggml.token_type") {
        Some(GgufValue::Array(values)) => values.iter().map(integer).collect(),
        _ => Vec::new(),
    };
    let mut vocab = Map::with_capacity(tokens.len());
    let mut added = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        vocab.insert(token.clone(), json!(id));
        let kind = types.get(id).copied().unwrap_or(1);
        if kind == TOKEN_TYPE_CONTROL || kind == TOKEN_TYPE_USER_DEFINED {
            added.push(json!({
                "id": id,
                "content": token,
                "single_word": false,
                "lstrip": false,
                "rstrip": false,
                "normalized": false,
                "special": kind == TOKEN_TYPE_CONTROL,
            }));
        }
    }
    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
    let split = |pattern: &str| json!({"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": false});
    // `tokenizer.ggml.pre` names the pre-tokenizer llama.cpp uses; the default (SmolLM2,
    // StarCoder, GPT-2 style) is individual digits then GPT-2's byte-level regex.
    let pre_tokenizers = match string(metadata, "tokenizer.ggml.pre").unwrap_or("default") {
        "qwen2" | "deepseek-r1-qwen" => vec![split(QWEN2_PATTERN), byte_level(false)],
        "llama-bpe" | "llama3" | "smaug-bpe" => vec![split(LLAMA3_PATTERN), byte_level(false)],
        _ => vec![json!({"type": "Digits", "individual_digits": true}), byte_level(true)],
    };
    Ok(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": pre_tokenizers},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": false,
            "byte_fallback": false,
            "ignore_merges": false,
            "vocab": vocab,
            "merges": merges,
        },
    }))
}

/// A string metadata value.
pub(crate) fn string<'a>(metadata: &'a HashMap<String, GgufValue>, key: &str) -> Option<&'a str> {
    match metadata.get(key) {
        Some(GgufValue::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// An integer metadata value (any integer width).
pub(crate) fn unsigned(metadata: &HashMap<String, GgufValue>, key: &str) -> Option<u64> {
    metadata.get(key).map(integer).and_then(|v| u64::try_from(v).ok())
}

/// A boolean metadata value.
pub(crate) fn boolean(metadata: &HashMap<String, GgufValue>, key: &str) -> Option<bool> {
    match metadata.get(key) {
        Some(GgufValue::Bool(b)) => Some(*b),
        _ => None,
    }
}

fn integer(value: &GgufValue) -> i64 {
    match value {
        GgufValue::U8(v) => i64::from(*v),
        GgufValue::I8(v) => i64::from(*v),
        GgufValue::U16(v) => i64::from(*v),
        GgufValue::I16(v) => i64::from(*v),
        GgufValue::U32(v) => i64::from(*v),
        GgufValue::I32(v) => i64::from(*v),
        GgufValue::U64(v) => i64::try_from(*v).unwrap_or(i64::MAX),
        GgufValue::I64(v) => *v,
        _ => -1,
    }
}

fn strings(metadata: &HashMap<String, GgufValue>, key: &str) -> Result<Vec<String>> {
    match metadata.get(key) {
        Some(GgufValue::Array(values)) => values
            .iter()
            .map(|v| match v {
                GgufValue::String(s) => Ok(s.clone()),
                other => Err(Error::Model(format!("{key}: expected strings, found {other:?}"))),
            })
            .collect(),
        _ => Err(Error::Model(format!("GGUF metadata has no `{key}` (needed for the tokenizer)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_metadata() -> HashMap<String, GgufValue> {
        let tokens = ["<|endoftext|>", "<|im_start|>", "a", "b", "ab", "Ġ", "Ġab", "1", "2"];
        let mut md = HashMap::new();
        md.insert("tokenizer.ggml.model".into(), GgufValue::String("gpt2".into()));
        md.insert(
            "tokenizer.ggml.tokens".into(),
            GgufValue::Array(tokens.iter().map(|t| GgufValue::String((*t).into())).collect()),
        );
        md.insert(
            "tokenizer.ggml.merges".into(),
            GgufValue::Array(
                ["a b", "Ġ ab"].iter().map(|t| GgufValue::String((*t).into())).collect(),
            ),
        );
        md.insert(
            "tokenizer.ggml.token_type".into(),
            GgufValue::Array(
                [3, 3, 1, 1, 1, 1, 1, 1, 1].iter().map(|t| GgufValue::I32(*t)).collect(),
            ),
        );
        md
    }

    #[test]
    fn builds_byte_level_bpe_with_special_tokens_and_individual_digits() {
        let tok = from_gguf(&tiny_metadata()).expect("tokenizer");
        let enc = tok.encode("<|im_start|>ab ab12", false).expect("encode");
        assert_eq!(enc.get_ids(), &[1, 4, 6, 7, 8]);
        let text = tok.decode(enc.get_ids(), false).expect("decode");
        assert_eq!(text, "<|im_start|>ab ab12");
        assert_eq!(tok.decode(enc.get_ids(), true).expect("decode"), "ab ab12");
    }

    #[test]
    fn a_saved_tokenizer_json_loads_back_and_a_broken_one_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokenizer.json");
        from_gguf(&tiny_metadata()).expect("tokenizer").save(&path, false).expect("save");
        let tok = from_file(&path).expect("loads");
        assert_eq!(tok.encode("ab12", false).expect("encode").get_ids(), &[4, 7, 8]);
        std::fs::write(&path, "{\"model\": 3}").expect("write");
        let err = from_file(&path).expect_err("broken");
        assert!(err.to_string().contains("tokenizer.json"), "{err}");
    }

    #[test]
    fn sentencepiece_metadata_is_refused_with_a_hint() {
        let mut md = tiny_metadata();
        md.insert("tokenizer.ggml.model".into(), GgufValue::String("llama".into()));
        let err = from_gguf(&md).expect_err("unsupported");
        assert!(err.to_string().contains("tokenizer.json"), "{err}");
    }

    #[test]
    fn missing_merges_is_an_error_not_a_panic() {
        let mut md = tiny_metadata();
        md.remove("tokenizer.ggml.merges");
        assert!(from_gguf(&md).is_err());
    }
}
