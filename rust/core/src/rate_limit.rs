//! Rate limits: token buckets per client, and per client and tool.
//!
//! A rate is `N/s`, `N/m` or `N/h` (also `N/sec`, `N/min`, `N/hour`, `N/second`, `N/minute`): a bucket holds
//! `N` tokens (so `N` calls may come at once) and refills at `N` per period. A call (`tools/call`,
//! `resources/read`, `prompts/get`) takes a token from its client's bucket and, for a tool with its own limit,
//! one from the client's bucket for that tool; when either is empty the call is refused with
//! [`RATE_LIMITED`] and how long until a token is back (`data.retryAfterMs`), and nothing is taken.
//!
//! The client is the authenticated principal when there is one, else the legacy session, else the client's
//! address (stateless HTTP), else the stdio connection. Buckets that have refilled completely are forgotten.

use crate::error::McpError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The JSON-RPC error code of a call refused by a rate limit (HTTP: 429 with `Retry-After`).
pub const RATE_LIMITED: i32 = -32029;

/// The methods a rate limit counts.
pub const LIMITED_METHODS: [&str; 3] = ["tools/call", "resources/read", "prompts/get"];

/// Forget full buckets once the table holds this many.
const SWEEP_AT: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Tokens a full bucket holds.
    pub burst: f64,
    /// Tokens added per second.
    pub per_second: f64,
}

impl Rate {
    /// `"100/s"`, `"600/m"`, `"10/h"`.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let bad = || format!("invalid rate {text:?}: expected N/s, N/m or N/h (e.g. \"100/s\")");
        let (count, period) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let seconds = match period.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(format!("invalid rate {text:?}: the count must be at least 1"));
        }
        Ok(Rate { burst: f64::from(count), per_second: f64::from(count) / seconds })
    }
}

/// What is limited.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimits {
    pub per_client: Option<Rate>,
    pub per_tool: HashMap<String, Rate>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket { tokens: rate.burst, at: now }
    }

    /// The tokens now.
    fn level(&self, rate: Rate, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * rate.per_second).min(rate.burst)
    }

    /// How long until one token is there (zero when one is).
    fn wait(&self, rate: Rate, now: Instant) -> Duration {
        let missing = 1.0 - self.level(rate, now);
        if missing <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(missing / rate.per_second)
        }
    }

    fn take(&mut self, rate: Rate, now: Instant) {
        self.tokens = self.level(rate, now) - 1.0;
        self.at = now;
    }
}

/// Which limit refused a call, and when to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub retry_after: Duration,
    /// True when the tool's own limit refused it (else the client's).
    pub tool: bool,
}

impl Refusal {
    /// The JSON-RPC error: [`RATE_LIMITED`] with `data.retryAfterMs` (at least 1).
    pub fn error(&self) -> McpError {
        let ms = self.retry_after.as_millis().max(1);
        let which = if self.tool { "this tool's" } else { "the client's" };
        McpError {
            code: RATE_LIMITED,
            message: format!("Rate limit exceeded ({which} limit): retry in {ms} ms"),
            data: Some(format!(
                "{{\"retryAfterMs\":{ms},\"limit\":\"{}\"}}",
                if self.tool { "tool" } else { "client" }
            )),
        }
    }
}

pub struct Limiter {
    limits: RateLimits,
    /// (client, tool or "") → bucket.
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

impl Limiter {
    pub fn new(limits: RateLimits) -> Limiter {
        Limiter { limits, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token for a call of `client` (to `tool`, for `tools/call`) now, or says why not.
    pub fn check(&self, client: &str, tool: Option<&str>) -> Result<(), Refusal> {
        self.check_at(client, tool, Instant::now())
    }

    pub fn check_at(&self, client: &str, tool: Option<&str>, now: Instant) -> Result<(), Refusal> {
        let tool_rate = tool.and_then(|t| self.limits.per_tool.get(t).map(|r| (t, *r)));
        if self.limits.per_client.is_none() && tool_rate.is_none() {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= SWEEP_AT {
            self.sweep(&mut buckets, now);
        }
        let client_wait = self.limits.per_client.map(|rate| {
            let bucket = buckets.get(&(client.to_owned(), String::new())).copied();
            (rate, bucket.map_or(Duration::ZERO, |b| b.wait(rate, now)))
        });
        let tool_wait = tool_rate.map(|(name, rate)| {
            let bucket = buckets.get(&(client.to_owned(), name.to_owned())).copied();
            (name, rate, bucket.map_or(Duration::ZERO, |b| b.wait(rate, now)))
        });
        let client_short = client_wait.map_or(Duration::ZERO, |(_, w)| w);
        let tool_short = tool_wait.map_or(Duration::ZERO, |(_, _, w)| w);
        if !client_short.is_zero() || !tool_short.is_zero() {
            return Err(Refusal { retry_after: client_short.max(tool_short), tool: tool_short > client_short });
        }
        if let Some((rate, _)) = client_wait {
            buckets
                .entry((client.to_owned(), String::new()))
                .or_insert_with(|| Bucket::full(rate, now))
                .take(rate, now);
        }
        if let Some((name, rate, _)) = tool_wait {
            buckets
                .entry((client.to_owned(), name.to_owned()))
                .or_insert_with(|| Bucket::full(rate, now))
                .take(rate, now);
        }
        Ok(())
    }

    /// Forgets buckets that are full again (a new one would be the same).
    fn sweep(&self, buckets: &mut HashMap<(String, String), Bucket>, now: Instant) {
        buckets.retain(|(_, tool), bucket| {
            let rate = if tool.is_empty() { self.limits.per_client } else { self.limits.per_tool.get(tool).copied() };
            rate.is_some_and(|rate| bucket.level(rate, now) < rate.burst)
        });
    }

    pub fn buckets(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_client: Option<&str>, per_tool: &[(&str, &str)]) -> Limiter {
        let rate = |t: &str| Rate::parse(t).unwrap_or_else(|e| panic!("{e}"));
        Limiter::new(RateLimits {
            per_client: per_client.map(rate),
            per_tool: per_tool.iter().map(|(k, v)| (k.to_string(), rate(v))).collect(),
        })
    }

    #[test]
    fn rates_parse() {
        assert_eq!(Rate::parse("100/s"), Ok(Rate { burst: 100.0, per_second: 100.0 }));
        assert_eq!(Rate::parse(" 60 / min "), Ok(Rate { burst: 60.0, per_second: 1.0 }));
        assert_eq!(Rate::parse("36/h").map(|r| r.per_second), Ok(0.01));
        for bad in ["", "10", "10/d", "x/s", "-1/s", "0/s", "1.5/s", "10/s/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills() {
        let limits = limiter(Some("3/s"), &[]);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limits.check_at("a", None, t0), Ok(()));
        }
        let Err(refusal) = limits.check_at("a", None, t0) else { panic!("the fourth call passed") };
        assert!(!refusal.tool);
        assert!(refusal.retry_after > Duration::from_millis(330) && refusal.retry_after <= Duration::from_millis(334));
        assert_eq!(limits.check_at("b", None, t0), Ok(()), "another client has its own bucket");
        assert!(limits.check_at("a", None, t0 + Duration::from_millis(200)).is_err());
        assert_eq!(limits.check_at("a", None, t0 + Duration::from_millis(340)), Ok(()), "one token back");
        assert!(limits.check_at("a", None, t0 + Duration::from_millis(340)).is_err());
        for _ in 0..3 {
            assert_eq!(limits.check_at("a", None, t0 + Duration::from_secs(5)), Ok(()), "full again, not more");
        }
        assert!(limits.check_at("a", None, t0 + Duration::from_secs(5)).is_err());
    }

    #[test]
    fn a_tool_limit_refuses_that_tool_only_and_takes_nothing_when_refusing() {
        let limits = limiter(Some("10/s"), &[("search", "1/s")]);
        let t0 = Instant::now();
        assert_eq!(limits.check_at("a", Some("search"), t0), Ok(()));
        let Err(refusal) = limits.check_at("a", Some("search"), t0) else { panic!("the tool limit did not hold") };
        assert!(refusal.tool && refusal.retry_after > Duration::from_millis(990));
        assert_eq!(refusal.error().code, RATE_LIMITED);
        assert!(refusal.error().data.unwrap_or_default().contains("\"limit\":\"tool\""));
        // The refused call took no client token: 9 more calls of other tools pass, the 10th does not.
        for _ in 0..8 {
            assert_eq!(limits.check_at("a", Some("echo"), t0), Ok(()));
        }
        assert_eq!(limits.check_at("a", None, t0), Ok(()));
        assert!(limits.check_at("a", Some("echo"), t0).is_err());
        assert_eq!(limits.check_at("b", Some("search"), t0), Ok(()), "the tool limit is per client");
    }

    #[test]
    fn without_a_client_limit_only_listed_tools_are_counted() {
        let limits = limiter(None, &[("search", "1/m")]);
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(limits.check_at("a", Some("echo"), t0), Ok(()));
        }
        assert_eq!(limits.buckets(), 0);
        assert_eq!(limits.check_at("a", Some("search"), t0), Ok(()));
        let Err(refusal) = limits.check_at("a", Some("search"), t0) else { panic!("1/m allowed two") };
        assert!(refusal.error().message.contains("retry in 60000 ms"), "{}", refusal.error().message);
    }

    #[test]
    fn full_buckets_are_forgotten() {
        let limits = limiter(Some("1000/s"), &[]);
        let t0 = Instant::now();
        for i in 0..SWEEP_AT {
            assert_eq!(limits.check_at(&format!("client-{i}"), None, t0), Ok(()));
        }
        assert_eq!(limits.buckets(), SWEEP_AT);
        assert_eq!(limits.check_at("late", None, t0 + Duration::from_secs(1)), Ok(()));
        assert_eq!(limits.buckets(), 1, "only the new client's bucket is not full");
    }
}
