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
