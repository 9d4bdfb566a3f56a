//! DNS-rebinding protection: which `Host` and `Origin` values a server accepts.
//!
//! A pattern is a value compared exactly (case-insensitively), or one ending in `:*`, which accepts its base
//! alone or followed by any port (`:` and digits): `localhost:*` accepts `localhost` and `localhost:9999`,
//! `http://localhost:*` accepts `http://localhost:3000`. A server bound to loopback accepts, by default, any
//! port on the loopback names, so port forwarding that keeps the client's `Host` (`ssh -L`, container port
//! maps, a local proxy) works, while a page on another site (whose `Host` is its own name) is refused.

/// The loopback names, each with any port: the default `Host` patterns of a server bound to loopback.
pub const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1:*", "localhost:*", "[::1]:*"];

/// Accepted values: some exact, some a base with any port.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    exact: Vec<String>,
    any_port: Vec<String>,
}

impl AllowList {
    pub fn new<I, S>(patterns: I) -> AllowList
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = AllowList::default();
        for pattern in patterns {
            let pattern = pattern.as_ref().trim().to_ascii_lowercase();
            match pattern.strip_suffix(":*") {
                Some(base) => list.any_port.push(base.to_owned()),
                None => list.exact.push(pattern),
            }
        }
        list
    }

    /// The `Origin` patterns matching these `Host` patterns: each as `http://` and `https://`.
    pub fn origins_of(host_patterns: &[String]) -> Vec<String> {
        host_patterns.iter().flat_map(|h| [format!("http://{h}"), format!("https://{h}")]).collect()
    }

    /// Whether `value` (already lowercase) is accepted.
    pub fn allows(&self, value: &str) -> bool {
        self.exact.iter().any(|e| e == value)
            || self.any_port.iter().any(|base| match value.strip_prefix(base.as_str()) {
                Some("") => true,
                Some(rest) => rest.strip_prefix(':').is_some_and(|port| {
                    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
                }),
                None => false,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_patterns_compare_the_whole_value() {
        let list = AllowList::new(["Example.com", "api.example.com:8443"]);
        assert!(list.allows("example.com"));
        assert!(list.allows("api.example.com:8443"));
        assert!(!list.allows("example.com:80"));
        assert!(!list.allows("api.example.com:8444"));
        assert!(!list.allows("evil.example.com"));
    }

    #[test]
    fn any_port_patterns_accept_the_base_alone_or_with_a_port() {
        let list = AllowList::new(LOOPBACK_HOSTS);
        for ok in ["127.0.0.1", "127.0.0.1:9999", "localhost:1", "[::1]:18201", "[::1]"] {
            assert!(list.allows(ok), "{ok}");
        }
        for refused in [
            "127.0.0.1.evil.com",
            "localhost.evil.com:80",
            "localhost:",
            "localhost:80x",
            "localhost:123456",
            "localhost:evil.com",
            "evil.com",
            "",
            "[::2]:80",
        ] {
            assert!(!list.allows(refused), "{refused}");
        }
    }

    #[test]
    fn origins_follow_the_same_rule() {
        let hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
        let origins = AllowList::new(AllowList::origins_of(&hosts));
        assert!(origins.allows("http://localhost:3000"));
        assert!(origins.allows("https://127.0.0.1"));
        assert!(!origins.allows("http://evil.example"));
        assert!(!origins.allows("http://localhost.evil.example"));
        assert!(!origins.allows("file://localhost"));
    }
}
