//! Protocol constants: versions and their negotiation, logging levels.

/// Legacy (handshake) versions this server speaks, newest first.
pub const LEGACY_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// What `initialize` answers when the client asks for a version we do not speak (including modern ones, which
/// have no handshake: a legacy client must get a legacy version back).
pub const LATEST_LEGACY: &str = LEGACY_VERSIONS[0];

/// The one version whose sessions may send JSON-RPC batches.
pub const BATCH_VERSION: &str = "2025-03-26";

/// Echo a supported version; otherwise answer the latest legacy one.
pub fn negotiate(requested: &str) -> &'static str {
    LEGACY_VERSIONS.iter().copied().find(|v| *v == requested).unwrap_or(LATEST_LEGACY)
}

/// RFC 5424 severities as MCP names them, least severe first.
pub const LOG_LEVELS: [&str; 8] = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

/// 1-based rank of a level name (0 is "no level set"), or `None` if it is not a level.
pub fn log_rank(level: &str) -> Option<u8> {
    LOG_LEVELS.iter().position(|l| *l == level).map(|i| i as u8 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_echoes_or_falls_back() {
        for v in LEGACY_VERSIONS {
            assert_eq!(negotiate(v), v);
        }
        assert_eq!(negotiate("2026-07-28"), "2025-11-25");
        assert_eq!(negotiate("1999-01-01"), "2025-11-25");
    }

    #[test]
    fn log_ranks_are_ordered() {
        assert_eq!(log_rank("debug"), Some(1));
        assert!(log_rank("error") > log_rank("warning"));
        assert_eq!(log_rank("verbose"), None);
    }
}
