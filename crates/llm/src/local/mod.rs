//! An in-process GGUF chat model on the CPU ([candle]), behind the same [`Provider`] trait as
//! the remote backends, so Bulwark works fully offline.
//!
//! * Architectures by the file's `general.architecture`: `llama` (SmolLM2, Llama 3.x) and
//!   `qwen2` (Qwen2.5).
//! * Tokenizer: `tokenizer.json` beside the model when present, else rebuilt from the GGUF
//!   metadata ([`tokenizer`]).
//! * Prompt: the file's chat template ([`ChatTemplate`]), tools the Hermes / Qwen2.5 way,
//!   replies parsed back into tool calls ([`parse_reply`]).
//! * Sampling: temperature 0 is greedy and deterministic; otherwise seeded (request seed, else
//!   [`LocalOptions::seed`]).
//! * Weights in formats candle only runs with scalar code (Q4_1, Q5_0, Q5_1: the test model is
//!   Q4_1) are re-quantized to Q8_0 at load, which has SIMD kernels (AVX2, NEON): prompt
//!   processing measured 8.7 → 49.6 tokens/s, for ~1.7x the weight memory and a transient
//!   copy while loading.
//!
//! One generation runs at a time: the weights and KV cache sit behind a mutex (the cache is
//! reset for every request), so a shared `LocalModel` is safe from many threads and requests
//! queue. CPU threads are candle's own pool, sized once per process from `CANDLE_NUM_THREADS`
//! (else `RAYON_NUM_THREADS`, else the physical cores); its workers spin between operations,
//! so on a machine busy with other work `CANDLE_NUM_THREADS=1` is much faster (measured on 2
//! oversubscribed cores: generation 10.5 → 36.7 tokens/s).
//!
//! [candle]: https://github.com/huggingface/candle
use crate::chat::{
    CancelToken, ChatRequest, ChatResponse, FinishReason, Message, StreamEvent, Usage,
};
use crate::provider::{Provider, estimate_tokens};
use crate::{Error, Result};
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use candle_transformers::generation::LogitsProcessor;
use candle_transformers::models::{quantized_llama, quantized_qwen2};
use std::fmt::Display;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use tokenizers::Tokenizer;

mod template;
pub mod tokenizer;
mod tools;

pub use template::{ChatTemplate, tools_section};
pub use tools::{ParsedReply, parse_reply};

/// How to run a local model.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalOptions {
    /// Context window in tokens; `None` uses the model's (`<arch>.context_length`). Never more
    /// than the model supports (llama models: at most candle's 4096-position RoPE table).
    pub context_window: Option<usize>,
    /// Tokens to generate when a request sets no `max_tokens` (cut to what the window leaves).
    pub max_tokens: u32,
    /// Sampling seed when a request sets none (only used at temperature > 0).
    pub seed: u64,
}

impl Default for LocalOptions {
    fn default() -> LocalOptions {
        LocalOptions { context_window: None, max_tokens: 512, seed: 299_792_458 }
    }
}

/// The weights of one of the supported architectures.
enum Weights {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
}

impl Weights {
    /// Logits for the last position of `tokens`, which start at position `index`.
    fn forward(&mut self, tokens: &[u32], index: usize, device: &Device) -> Result<Tensor> {
        let input = Tensor::new(tokens, device).and_then(|t| t.unsqueeze(0)).map_err(model_err)?;
        let logits = match self {
            Weights::Llama(w) => w.forward(&input, index),
            Weights::Qwen2(w) => w.forward(&input, index),
        };
        logits.and_then(|l| l.squeeze(0)).map_err(model_err)
    }

    fn clear_kv_cache(&mut self) {
        match self {
            Weights::Llama(w) => w.clear_kv_cache(),
            Weights::Qwen2(w) => w.clear_kv_cache(),
        }
    }
}

/// A GGUF chat model running in this process; see the module docs.
pub struct LocalModel {
    name: String,
    architecture: String,
    weights: Mutex<Weights>,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    eos: Vec<u32>,
    /// Prepended when the template did not write it (`tokenizer.ggml.add_bos_token`).
    bos: Option<u32>,
    context_window: usize,
    options: LocalOptions,
    device: Device,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("name", &self.name)
            .field("architecture", &self.architecture)
            .field("context_window", &self.context_window)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl LocalModel {
    /// Loads a GGUF model (weights, tokenizer, chat template) from `path`.
    pub fn load(path: &Path, options: LocalOptions) -> Result<LocalModel> {
        let io = |source| Error::Io { path: path.display().to_string(), source };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| model_err(format!("{}: not a readable GGUF file: {e}", path.display())))?;
        let md = &content.metadata;
        let architecture = tokenizer::string(md, "general.architecture").unwrap_or("").to_string();

        let beside = path.with_file_name("tokenizer.json");
        let tok = if beside.is_file() {
            tokenizer::from_file(&beside)?
        } else {
            tokenizer::from_gguf(md)?
        };
        let token_text = |key: &str| {
            tokenizer::unsigned(md, key)
                .and_then(|id| u32::try_from(id).ok())
                .and_then(|id| tok.id_to_token(id).map(|t| (id, t)))
        };
        let bos = token_text("tokenizer.ggml.bos_token_id");
        let eos = token_text("tokenizer.ggml.eos_token_id");
        let template = ChatTemplate::new(
            tokenizer::string(md, "tokenizer.chat_template").map(str::to_string),
            bos.as_ref().map_or("", |(_, t)| t.as_str()),
            eos.as_ref().map_or("", |(_, t)| t.as_str()),
        )?;
        // End-of-turn tokens: the declared EOS plus the usual chat markers when present.
        let mut eos_ids: Vec<u32> = eos.iter().map(|(id, _)| *id).collect();
        for marker in ["<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end_of_text|>", "<|eom_id|>"]
        {
            if let Some(id) = tok.token_to_id(marker)
                && !eos_ids.contains(&id)
            {
                eos_ids.push(id);
            }
        }
        let add_bos = tokenizer::boolean(md, "tokenizer.ggml.add_bos_token").unwrap_or(false);
        let bos = if add_bos { bos.map(|(id, _)| id) } else { None };

        let trained = tokenizer::unsigned(md, &format!("{architecture}.context_length"))
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(quantized_llama::MAX_SEQ_LEN);
        let device = Device::Cpu;
        let (content, mut reader) = requantize(content, &mut file, &device)?;
        let (weights, limit) = match architecture.as_str() {
            "llama" => (
                Weights::Llama(
                    quantized_llama::ModelWeights::from_gguf(content, &mut reader, &device)
                        .map_err(model_err)?,
                ),
                // candle precomputes RoPE for this many positions only.
                trained.min(quantized_llama::MAX_SEQ_LEN),
            ),
            "qwen2" => (
                Weights::Qwen2(
                    quantized_qwen2::ModelWeights::from_gguf(content, &mut reader, &device)
                        .map_err(model_err)?,
                ),
                trained,
            ),
            other => {
                return Err(Error::Model(format!(
                    "{}: architecture `{other}` is not supported (llama, qwen2)",
                    path.display()
                )));
            }
        };
        let context_window = options.context_window.map_or(limit, |w| w.min(limit)).max(1);
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "local".to_string());
        Ok(LocalModel {
            name,
            architecture,
            weights: Mutex::new(weights),
            tokenizer: tok,
            template,
            eos: eos_ids,
            bos,
            context_window,
            options,
            device,
        })
    }

    /// The GGUF `general.architecture` (`llama`, `qwen2`).
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// The prompt text a request becomes (chat template applied, tools rendered).
    pub fn render_prompt(&self, request: &ChatRequest) -> Result<String> {
        self.template.render(request)
    }

    /// Token ids of `text`; special tokens written in the text (`<|im_start|>`) are recognised.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(text, false).map(|e| e.get_ids().to_vec()).map_err(model_err)
    }

    /// Text of token ids (special tokens kept).
    pub fn detokenize(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer.decode(ids, false).map_err(model_err)
    }

    /// The prompt's token ids (BOS prepended when the model wants one and the template did
    /// not write it).
    fn prompt_ids(&self, prompt: &str) -> Result<Vec<u32>> {
        let mut ids = self.tokenize(prompt)?;
        if let Some(bos) = self.bos
            && ids.first() != Some(&bos)
        {
            ids.insert(0, bos);
        }
        Ok(ids)
    }
}

impl Provider for LocalModel {
    fn backend(&self) -> &str {
        "local"
    }

    fn model(&self) -> &str {
        &self.name
    }

    fn context_window(&self) -> usize {
        self.context_window
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer.encode(text, false).map_or_else(|_| estimate_tokens(text), |e| e.len())
    }

    fn chat(
        &self,
        request: &ChatRequest,
        on_event: &mut dyn FnMut(StreamEvent),
        cancel: &CancelToken,
    ) -> Result<ChatResponse> {
        let tools = ChatTemplate::tools_active(request);
        let prompt = self.template.render(request)?;
        let prefill = template::forced_call_prefill(request).unwrap_or_default();
        let ids = self.prompt_ids(&prompt)?;
        let prompt_tokens = ids.len();
        let window = self.context_window;
        let max_tokens = match request.max_tokens {
            Some(max) => {
                let max = max as usize;
                if prompt_tokens + max > window {
                    return Err(Error::ContextWindow { needed: prompt_tokens + max, window });
                }
                max
            }
            None => {
                if prompt_tokens >= window {
                    return Err(Error::ContextWindow { needed: prompt_tokens + 1, window });
                }
                (self.options.max_tokens as usize).min(window - prompt_tokens)
            }
        };
        let mut emit = |text: &str| on_event(StreamEvent::Token(text.to_string()));
        let mut gate = tools::TextGate::new(&request.stop, tools, &prefill);
        let mut generated = 0usize;
        let mut finish = FinishReason::Length;
        if max_tokens > 0 {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let temperature = f64::from(request.temperature);
            let mut sampler = LogitsProcessor::new(
                request.seed.unwrap_or(self.options.seed),
                (temperature > 0.0).then_some(temperature),
                None,
            );
            // The state is rebuilt below (cache cleared), so a panic that poisoned the lock
            // left nothing this request depends on.
            let mut weights = self.weights.lock().unwrap_or_else(PoisonError::into_inner);
            weights.clear_kv_cache();
            let mut logits = weights.forward(&ids, 0, &self.device)?;
            let mut decoder = self.tokenizer.decode_stream(true);
            loop {
                let next = sampler.sample(&logits).map_err(model_err)?;
                if self.eos.contains(&next) {
                    finish = FinishReason::Stop;
                    break;
                }
                generated += 1;
                if let Some(piece) = decoder.step(next).map_err(model_err)?
                    && gate.push(&piece, &mut emit) == tools::Gate::Stop
                {
                    finish = FinishReason::Stop;
                    break;
                }
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                if generated >= max_tokens {
                    break;
                }
                logits = weights.forward(&[next], prompt_tokens + generated - 1, &self.device)?;
            }
        }
        let reply = gate.finish(&mut emit);
        if !reply.calls.is_empty() {
            finish = FinishReason::ToolCalls;
            for call in &reply.calls {
                on_event(StreamEvent::ToolCall(call.clone()));
            }
        }
        Ok(ChatResponse {
            message: Message { tool_calls: reply.calls, ..Message::assistant(reply.content) },
            finish_reason: finish,
            usage: Usage {
                prompt_tokens: prompt_tokens as u64,
                completion_tokens: generated as u64,
            },
            model: self.name.clone(),
        })
    }
}

/// Weight formats candle multiplies with scalar code only (no SIMD kernel on any CPU).
const SCALAR_ONLY: [GgmlDType; 3] = [GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q5_1];

/// The model file as read, or an in-memory copy whose [`SCALAR_ONLY`] tensors are
/// re-quantized to Q8_0, which candle runs with AVX2 (and NEON): about an order of magnitude
/// faster on the test model (Q4_1) for ~1.7x the memory. Q8_0 keeps 8 bits per weight, so the
/// conversion adds an error of at most 1/254 of a block's largest weight, far below the
/// original 4/5-bit step.
fn requantize(
    content: gguf_file::Content,
    file: &mut std::fs::File,
    device: &Device,
) -> Result<(gguf_file::Content, Reader)> {
    let slow = content.tensor_infos.values().any(|info| SCALAR_ONLY.contains(&info.ggml_dtype));
    if !slow {
        return Ok((
            content,
            Reader::File(file.try_clone().map_err(|e| Error::Model(e.to_string()))?),
        ));
    }
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let tensor = content.tensor(file, name, device).map_err(model_err)?;
        let tensor = if SCALAR_ONLY.contains(&tensor.dtype()) {
            let values = tensor.dequantize(device).map_err(model_err)?;
            QTensor::quantize(&values, GgmlDType::Q8_0).map_err(model_err)?
        } else {
            tensor
        };
        tensors.push((name.as_str(), tensor));
    }
    // The copy is written with candle's default alignment, so the original's is dropped.
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .filter(|(key, _)| key.as_str() != "general.alignment")
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(name, t)| (*name, t)).collect();
    let mut buffer = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut buffer, &metadata, &refs).map_err(model_err)?;
    drop(tensors);
    buffer.set_position(0);
    let copy = gguf_file::Content::read(&mut buffer).map_err(model_err)?;
    Ok((copy, Reader::Memory(buffer)))
}

/// Where the weights are read from: the file, or the re-quantized copy in memory.
enum Reader {
    File(std::fs::File),
    Memory(std::io::Cursor<Vec<u8>>),
}

impl std::io::Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Reader::File(f) => f.read(buf),
            Reader::Memory(m) => m.read(buf),
        }
    }
}

impl std::io::Seek for Reader {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        match self {
            Reader::File(f) => f.seek(pos),
            Reader::Memory(m) => m.seek(pos),
        }
    }
}

fn model_err(e: impl Display) -> Error {
    // With RUST_BACKTRACE set, candle appends a captured backtrace to its message; an error
    // for a user (a corrupt or foreign file) is the message alone.
    let text = e.to_string();
    let message = text.split("\n   0: ").next().unwrap_or(&text).trim_end();
    Error::Model(message.to_string())
}
