//! Client log lines (the SDK's `enableLogUpload`): what a client records of its own life,
//! which it sends to the server in `logs` frames when the application turned uploading on,
//! so that support can read what a user's client saw (the server keeps a bounded recent
//! window per user, readable through the REST API).

use serde::{Deserialize, Serialize};

/// How much a line matters; the SDK's `logFilter` keeps the lines at or above a level.
/// Ordered from the most to the least important: `Error < Warn < Info < Debug`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    /// The level's name on the wire and in the REST API (`"warn"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }

    /// The level named `name` (as [`LogLevel::as_str`] spells it).
    pub fn from_name(name: &str) -> Option<LogLevel> {
        [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
        ]
        .into_iter()
        .find(|l| l.as_str() == name)
    }
}

/// One log line: when (unix ms by the client's clock), how important, what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogLine {
    pub ts: u64,
    pub level: LogLevel,
    pub text: String,
}

/// Most lines one `logs` frame may carry.
pub const MAX_LINES_PER_FRAME: usize = 50;

/// Most bytes of one line's text; a client cuts longer lines (at a character boundary).
pub const MAX_LINE_BYTES: usize = 1024;

/// `text` cut to [`MAX_LINE_BYTES`] at a character boundary.
pub fn cut_line(text: &str) -> &str {
    let mut end = text.len().min(MAX_LINE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_from_most_to_least_important() {
        assert!(LogLevel::Error < LogLevel::Warn);
        assert!(LogLevel::Warn < LogLevel::Info);
        assert!(LogLevel::Info < LogLevel::Debug);
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        let text = "é".repeat(MAX_LINE_BYTES); // two bytes each
        let cut = cut_line(&text);
        assert_eq!(cut.len(), MAX_LINE_BYTES);
        let text = format!("a{}", "é".repeat(MAX_LINE_BYTES));
        assert_eq!(cut_line(&text).len(), MAX_LINE_BYTES - 1);
        assert_eq!(cut_line("short"), "short");
    }
}
