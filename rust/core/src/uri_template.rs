//! RFC 6570 URI templates, matched in reverse: which variables turn a template into a given URI.
//!
//! Supported expressions: `{var}` (simple: one value without `/`, `?`, `#`, `&`, `,`), `{+var}` (reserved: any
//! text), `{#var}` (fragment), `{/var}` (one path segment), `{.var}` (label), and `{?a,b}` / `{&a,b}` (query
//! parameters, each optional). Captured values are percent-decoded.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// A single-variable expression: prefix written before the value, and whether the value may hold reserved
    /// characters (`/`, `?`, ...).
    Var {
        name: String,
        prefix: &'static str,
        reserved: bool,
    },
    /// `{?a,b}` or `{&a,b}`: optional `name=value` pairs.
    Query {
        names: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    pub text: String,
    parts: Vec<Part>,
}

impl UriTemplate {
    pub fn parse(text: &str) -> Result<UriTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let close = rest[open..].find('}').ok_or_else(|| format!("unclosed expression in {text:?}"))? + open;
            let expr = &rest[open + 1..close];
            let (op, names) = match expr.chars().next() {
                Some(c @ ('+' | '#' | '/' | '.' | '?' | '&')) => (Some(c), &expr[1..]),
                _ => (None, expr),
            };
            let names: Vec<String> =
                names.split(',').map(|n| n.trim_end_matches('*').trim().to_owned()).filter(|n| !n.is_empty()).collect();
            if names.is_empty() || names.iter().any(|n| !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
                return Err(format!("invalid expression {{{expr}}} in {text:?}"));
            }
            match op {
                Some('?' | '&') => parts.push(Part::Query { names }),
                _ if names.len() > 1 => return Err(format!("only one variable per {{{expr}}} is supported")),
                _ => {
                    let (prefix, reserved) = match op {
                        Some('+') => ("", true),
                        Some('#') => ("#", true),
                        Some('/') => ("/", false),
                        Some('.') => (".", false),
                        _ => ("", false),
                    };
                    parts.push(Part::Var { name: names[0].clone(), prefix, reserved });
                }
            }
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(UriTemplate { text: text.to_owned(), parts })
    }

    /// The variable names, in order.
    pub fn variables(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                Part::Var { name, .. } => out.push(name.as_str()),
                Part::Query { names } => out.extend(names.iter().map(String::as_str)),
                Part::Literal(_) => {}
            }
        }
        out
    }

    /// The variables that make this template expand to `uri`, if any.
    pub fn matches(&self, uri: &str) -> Option<BTreeMap<String, String>> {
        let mut vars = BTreeMap::new();
        match_parts(&self.parts, uri, &mut vars).then_some(vars)
    }
}

fn stops_simple(c: char) -> bool {
    matches!(c, '/' | '?' | '#' | '&' | ',')
}

fn match_parts(parts: &[Part], input: &str, vars: &mut BTreeMap<String, String>) -> bool {
    let Some((first, rest)) = parts.split_first() else { return input.is_empty() };
    match first {
        Part::Literal(lit) => input.strip_prefix(lit.as_str()).is_some_and(|tail| match_parts(rest, tail, vars)),
        Part::Var { name, prefix, reserved } => {
            let Some(input) = input.strip_prefix(prefix) else { return false };
            // Try every possible end of the value, shortest first; templates are short, so this stays cheap.
            let limit = if *reserved { input.len() } else { input.find(stops_simple).unwrap_or(input.len()) };
            for end in (1..=limit).filter(|&e| input.is_char_boundary(e)) {
                if match_parts(rest, &input[end..], vars) {
                    vars.insert(name.clone(), percent_decode(&input[..end]));
                    return true;
                }
            }
            false
        }
        Part::Query { names } => {
            let (query, tail) = match input.strip_prefix(['?', '&']) {
                Some(q) => match q.find('#') {
                    Some(i) => (&q[..i], &q[i..]),
                    None => (q, ""),
                },
                None => ("", input),
            };
            if !match_parts(rest, tail, vars) {
                return false;
            }
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                if names.iter().any(|n| n == k) {
                    vars.insert(k.to_owned(), percent_decode(v));
                }
            }
            true
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: &str, uri: &str) -> Option<Vec<(String, String)>> {
        UriTemplate::parse(t).ok()?.matches(uri).map(|v| v.into_iter().collect())
    }

    fn pairs(p: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    #[test]
    fn simple_variables() {
        assert_eq!(m("test://template/{id}/data", "test://template/123/data"), pairs(&[("id", "123")]));
        assert_eq!(m("test://template/{id}/data", "test://template/1/2/data"), None);
        assert_eq!(m("test://template/{id}/data", "test://template//data"), None);
        assert_eq!(m("users://{user}/posts/{post}", "users://ann/posts/7"), pairs(&[("post", "7"), ("user", "ann")]));
        assert_eq!(m("file:///{name}", "file:///a%20b"), pairs(&[("name", "a b")]));
        assert_eq!(m("x://{a}", "y://b"), None);
    }

    #[test]
    fn reserved_path_and_query() {
        assert_eq!(m("file:///{+path}", "file:///a/b/c.txt"), pairs(&[("path", "a/b/c.txt")]));
        assert_eq!(m("api://items{/id}", "api://items/9"), pairs(&[("id", "9")]));
        assert_eq!(
            m("search://q{?term,limit}", "search://q?term=cat&limit=5"),
            pairs(&[("limit", "5"), ("term", "cat")])
        );
        assert_eq!(m("search://q{?term,limit}", "search://q"), pairs(&[]));
    }

    #[test]
    fn variables_and_errors() {
        let t = UriTemplate::parse("a://{x}/{+y}{?p,q}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.variables(), vec!["x", "y", "p", "q"]);
        assert!(UriTemplate::parse("a://{x").is_err());
        assert!(UriTemplate::parse("a://{}").is_err());
        assert!(UriTemplate::parse("a://{a,b}").is_err());
    }
}
