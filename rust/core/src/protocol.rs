//! Protocol versions as a type (era and feature predicates instead of string comparisons), their
//! negotiation, and logging levels.

use std::fmt;

/// A released MCP protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    V2024_11_05,
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
}

/// How a version is spoken: legacy versions negotiate with `initialize` and keep a session; modern versions are
/// stateless, each request naming its version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    Legacy,
    Modern,
}

/// Protocol behaviour that depends on the version in use. Ask `version.supports(feature)`, never compare dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// JSON-RPC batches (only 2025-03-26 allowed them).
    Batches,
    /// `audio` content blocks (2025-03-26 on).
    AudioContent,
    /// `resource_link` content blocks (2025-06-18 on).
    ResourceLinks,
    /// SSE streams the server may close for the client to resume: priming events with an id and `retry`
    /// (SEP-1699, 2025-11-25 on).
    StreamPolling,
    /// Error responses whose request id could not be read may leave `id` out (2025-11-25 on).
    ErrorsWithoutId,
}

impl ProtocolVersion {
    /// Every version, oldest first.
    pub const ALL: [ProtocolVersion; 5] = [
        ProtocolVersion::V2024_11_05,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2026_07_28,
    ];

    /// The legacy (handshake) versions this server negotiates, newest first.
    pub const LEGACY: [ProtocolVersion; 4] = [
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2024_11_05,
    ];

    /// The stateless versions: every request names its version in `_meta`.
    pub const MODERN: [ProtocolVersion; 1] = [ProtocolVersion::V2026_07_28];

    /// What `initialize` answers when the client asks for a version we do not negotiate (including modern ones,
    /// which have no handshake: a legacy client must get a legacy version back).
    pub const LATEST_LEGACY: ProtocolVersion = ProtocolVersion::V2025_11_25;

    pub const fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2024_11_05 => "2024-11-05",
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
            ProtocolVersion::V2026_07_28 => "2026-07-28",
        }
    }

    /// The version a string names exactly, if it is a released one.
    pub fn parse(s: &str) -> Option<ProtocolVersion> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub const fn era(self) -> Era {
        match self {
            ProtocolVersion::V2026_07_28 => Era::Modern,
            _ => Era::Legacy,
        }
    }

    pub fn is_legacy(self) -> bool {
        self.era() == Era::Legacy
    }

    pub fn supports(self, feature: Feature) -> bool {
        match feature {
            Feature::Batches => self == ProtocolVersion::V2025_03_26,
            Feature::AudioContent => self >= ProtocolVersion::V2025_03_26,
            Feature::ResourceLinks => self >= ProtocolVersion::V2025_06_18,
            Feature::StreamPolling | Feature::ErrorsWithoutId => self >= ProtocolVersion::V2025_11_25,
        }
    }

    /// Echoes a legacy version the client asked for; otherwise answers the latest legacy one.
    pub fn negotiate(requested: &str) -> ProtocolVersion {
        Self::parse(requested).filter(|v| v.is_legacy()).unwrap_or(Self::LATEST_LEGACY)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `_meta` keys of the stateless era (2026-07-28).
pub mod meta {
    pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
    pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
    pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
    pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
    pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
    pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
}

/// The error codes of the stateless era.
pub const HEADER_MISMATCH: i32 = -32020;
pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i32 = -32021;
pub const UNSUPPORTED_PROTOCOL_VERSION: i32 = -32022;

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
    fn negotiation_echoes_legacy_versions_or_falls_back() {
        for v in ProtocolVersion::LEGACY {
            assert_eq!(ProtocolVersion::negotiate(v.as_str()), v);
        }
        assert_eq!(ProtocolVersion::negotiate("2026-07-28"), ProtocolVersion::V2025_11_25);
        assert_eq!(ProtocolVersion::negotiate("1999-01-01"), ProtocolVersion::V2025_11_25);
        assert_eq!(ProtocolVersion::negotiate(""), ProtocolVersion::V2025_11_25);
    }

    #[test]
    fn names_round_trip_and_only_released_versions_parse() {
        for v in ProtocolVersion::ALL {
            assert_eq!(ProtocolVersion::parse(v.as_str()), Some(v));
            assert_eq!(v.to_string(), v.as_str());
        }
        assert_eq!(ProtocolVersion::parse("2025-11-25 "), None);
        assert_eq!(ProtocolVersion::parse("2025-11-26"), None);
    }

    #[test]
    fn eras() {
        assert!(ProtocolVersion::LEGACY.iter().all(|v| v.era() == Era::Legacy));
        assert_eq!(ProtocolVersion::V2026_07_28.era(), Era::Modern);
    }

    #[test]
    fn features_by_version() {
        use ProtocolVersion::*;
        let with = |f: Feature| ProtocolVersion::ALL.into_iter().filter(|v| v.supports(f)).collect::<Vec<_>>();
        assert_eq!(with(Feature::Batches), [V2025_03_26]);
        assert_eq!(with(Feature::AudioContent), [V2025_03_26, V2025_06_18, V2025_11_25, V2026_07_28]);
        assert_eq!(with(Feature::ResourceLinks), [V2025_06_18, V2025_11_25, V2026_07_28]);
        assert_eq!(with(Feature::StreamPolling), [V2025_11_25, V2026_07_28]);
        assert_eq!(with(Feature::ErrorsWithoutId), [V2025_11_25, V2026_07_28]);
    }

    #[test]
    fn log_ranks_are_ordered() {
        assert_eq!(log_rank("debug"), Some(1));
        assert!(log_rank("error") > log_rank("warning"));
        assert_eq!(log_rank("verbose"), None);
    }
}
