//! The fixed prompt set of the latency benchmarks (`cargo bench --bench ask`,
//! `bulwark bench ask`): one question of each kind the demo tenant can answer.

/// Prompts timed by the latency benchmarks.
pub const PROMPTS: &[&str] = &[
    "Who was patient zero?",
    "What did the macro launch?",
    "Which IP received the exfiltrated data?",
    "What should we do first about the intrusion?",
    "Which accounts were sprayed?",
    "Show inbox rules forwarding mail",
    "How do I respond to the password spray?",
    "Show failed sign-ins in the last 24 hours",
    "top 10 remote IPs by connection count",
    "Tell me about srv-fs01",
    "Hunt for 45.142.212.61 and cdn-ms365.com",
    "Show processes spawned by winword",
    "count alerts by severity",
    "Which accounts use legacy authentication?",
    "Show antivirus detections",
    "Analyze this command line: `powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA`",
];

/// Latency of the prompt set over a tenant.
#[derive(Debug, Clone)]
pub struct Latency {
    /// First round: milliseconds, skills chosen, prompt.
    pub first_round: Vec<(f64, String, &'static str)>,
    /// Timed prompts (rounds × prompts).
    pub samples: usize,
    /// Median milliseconds.
    pub p50: f64,
    /// 95th percentile milliseconds.
    pub p95: f64,
    /// Slowest prompt, milliseconds.
    pub max: f64,
    /// Median milliseconds spent outside model calls (extraction, planning, skills, guard,
    /// HTTP and prompt building): what orchestration adds to the model's own time.
    pub overhead_p50: f64,
    /// 95th percentile of that overhead.
    pub overhead_p95: f64,
    /// Milliseconds inside model calls, all timed prompts together.
    pub model_ms: f64,
    /// Model calls and tokens, all timed prompts together.
    pub usage: crate::TokenUsage,
}

/// Asks every prompt of [`PROMPTS`] `rounds` times (after one warm-up prompt) and reports
/// percentiles of the wall time per answer.
pub fn measure(copilot: &crate::Copilot, rounds: usize) -> Latency {
    use crate::SessionContext;
    copilot.ask(PROMPTS[0], &mut SessionContext::default());
    let mut times = Vec::new();
    let mut overheads = Vec::new();
    let mut model_ms = 0.0;
    let mut usage = crate::TokenUsage::default();
    let mut first_round = Vec::new();
    for round in 0..rounds.max(1) {
        for p in PROMPTS {
            let t = std::time::Instant::now();
            let a = copilot.ask(p, &mut SessionContext::default());
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if round == 0 {
                first_round.push((ms, a.skills.join(","), *p));
            }
            // Model calls are the process log's `llm` entries (each timed around the call).
            let in_model: f64 =
                a.process_log.iter().filter(|e| e.step == "llm").map(|e| e.elapsed_ms as f64).sum();
            model_ms += in_model;
            overheads.push((ms - in_model).max(0.0));
            usage.prompt_tokens += a.usage.prompt_tokens;
            usage.completion_tokens += a.usage.completion_tokens;
            usage.model_calls += a.usage.model_calls;
            if usage.backend.is_empty() {
                usage.backend = a.usage.backend.clone();
                usage.model = a.usage.model.clone();
            }
            times.push(ms);
        }
    }
    let pct = |values: &mut Vec<f64>, p: f64| {
        values.sort_by(f64::total_cmp);
        values[((values.len() as f64 - 1.0) * p).round() as usize]
    };
    Latency {
        first_round,
        samples: times.len(),
        p50: pct(&mut times, 0.5),
        p95: pct(&mut times, 0.95),
        max: pct(&mut times, 1.0),
        overhead_p50: pct(&mut overheads, 0.5),
        overhead_p95: pct(&mut overheads, 0.95),
        model_ms,
        usage,
    }
}
