//! The tool registry: definitions, compiled input validators, and pre-serialized `tools/list` pages.
//!
//! A registry is immutable once built; a change builds a new one and swaps it in, so readers never wait on a
//! writer and the list pages are serialized once per change, not per request.

use crate::schema::CompiledSchema;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One registered tool.
pub struct Tool {
    /// Stable id chosen by the embedder; handed back with each call so it can find its handler without a lookup.
    pub id: u32,
    pub name: String,
    /// The `Tool` object exactly as it appears in `tools/list` (schemas passed through verbatim).
    pub definition: Box<RawValue>,
    pub input: CompiledSchema,
    /// Argument names the handler accepts; others are dropped before the call. `None` passes everything.
    pub accepts: Option<HashSet<String>>,
}

impl Tool {
    /// Builds a tool from its `Tool` JSON object. The `inputSchema` must be an object schema.
    pub fn new(id: u32, definition: &str, accepts: Option<HashSet<String>>) -> Result<Tool, String> {
        let value: Value = serde_json::from_str(definition).map_err(|e| format!("tool definition is not JSON: {e}"))?;
        let name = value.get("name").and_then(Value::as_str).ok_or("tool definition needs a string \"name\"")?;
        if name.is_empty() {
            return Err("tool name must not be empty".into());
        }
        let schema = value.get("inputSchema").ok_or("tool definition needs an \"inputSchema\"")?;
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(format!("tool {name:?}: inputSchema must have \"type\": \"object\""));
        }
        let input = CompiledSchema::compile(schema).map_err(|e| format!("tool {name:?}: {e}"))?;
        let compact = serde_json::to_string(&value).map_err(|e| e.to_string())?;
        let definition = RawValue::from_string(compact).map_err(|e| e.to_string())?;
        Ok(Tool { id, name: name.to_owned(), definition, input, accepts })
    }
}

pub struct Registry {
    tools: Vec<Arc<Tool>>,
    by_name: HashMap<String, usize>,
    /// `tools/list` results, one per page, ready to splice into a response.
    pages: Vec<Vec<u8>>,
    page_size: usize,
}

impl Registry {
    pub fn new(page_size: usize) -> Self {
        Self::build(Vec::new(), page_size)
    }

    fn build(tools: Vec<Arc<Tool>>, page_size: usize) -> Self {
        let page_size = page_size.max(1);
        let by_name = tools.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
        let mut pages = Vec::new();
        let chunks: Vec<&[Arc<Tool>]> = if tools.is_empty() { vec![&[]] } else { tools.chunks(page_size).collect() };
        let last = chunks.len() - 1;
        for (n, chunk) in chunks.iter().enumerate() {
            let mut page = Vec::from(&b"{\"tools\":["[..]);
            for (i, tool) in chunk.iter().enumerate() {
                if i > 0 {
                    page.push(b',');
                }
                page.extend_from_slice(tool.definition.get().as_bytes());
            }
            page.push(b']');
            if n < last {
                page.extend_from_slice(format!(",\"nextCursor\":\"{}\"", (n + 1) * page_size).as_bytes());
            }
            page.push(b'}');
            pages.push(page);
        }
        Registry { tools, by_name, pages, page_size }
    }

    /// A new registry with `tool` added, replacing any tool of the same name.
    pub fn with_tool(&self, tool: Tool) -> Registry {
        let mut tools: Vec<Arc<Tool>> = self.tools.iter().filter(|t| t.name != tool.name).cloned().collect();
        tools.push(Arc::new(tool));
        Self::build(tools, self.page_size)
    }

    /// A new registry without the named tool, or `None` if there is no such tool.
    pub fn without_tool(&self, name: &str) -> Option<Registry> {
        self.by_name.get(name)?;
        let tools = self.tools.iter().filter(|t| t.name != name).cloned().collect();
        Some(Self::build(tools, self.page_size))
    }

    pub fn with_page_size(&self, page_size: usize) -> Registry {
        Self::build(self.tools.clone(), page_size)
    }

    pub fn tool(&self, name: &str) -> Option<&Arc<Tool>> {
        self.by_name.get(name).map(|&i| &self.tools[i])
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    pub fn len(&self) -> usize {
        self.tools.len()
    }

    /// The page for a cursor (`None` = first page). An unknown cursor is `None`.
    pub fn page(&self, cursor: Option<&str>) -> Option<&[u8]> {
        let index = match cursor {
            None => 0,
            Some(c) => {
                let offset: usize = c.parse().ok()?;
                if offset == 0 || offset % self.page_size != 0 {
                    return None;
                }
                offset / self.page_size
            }
        };
        self.pages.get(index).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(id: u32, name: &str) -> Tool {
        let def = format!(r#"{{"name":"{name}","description":"d","inputSchema":{{"type":"object"}}}}"#);
        Tool::new(id, &def, None).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn pages_and_cursors() {
        let mut reg = Registry::new(2);
        for (i, n) in ["a", "b", "c"].iter().enumerate() {
            reg = reg.with_tool(tool(i as u32, n));
        }
        let first = String::from_utf8_lossy(reg.page(None).unwrap_or_default()).into_owned();
        assert!(first.contains("\"a\"") && first.contains("\"b\"") && first.ends_with(",\"nextCursor\":\"2\"}"));
        let second = String::from_utf8_lossy(reg.page(Some("2")).unwrap_or_default()).into_owned();
        assert!(second.contains("\"c\"") && !second.contains("nextCursor"), "{second}");
        for bad in ["1", "4", "x", "0", ""] {
            assert!(reg.page(Some(bad)).is_none(), "{bad}");
        }
    }

    #[test]
    fn empty_registry_has_one_empty_page() {
        assert_eq!(Registry::new(10).page(None), Some(&b"{\"tools\":[]}"[..]));
    }

    #[test]
    fn replace_and_remove() {
        let reg = Registry::new(10).with_tool(tool(0, "a")).with_tool(tool(1, "a"));
        assert_eq!(reg.len(), 1);
        assert_eq!(reg.tool("a").map(|t| t.id), Some(1));
        assert!(reg.without_tool("zz").is_none());
        assert!(reg.without_tool("a").map(|r| r.is_empty()).unwrap_or(false));
    }

    #[test]
    fn rejects_bad_definitions() {
        assert!(Tool::new(0, "{}", None).is_err());
        assert!(Tool::new(0, r#"{"name":"x","inputSchema":{"type":"string"}}"#, None).is_err());
        assert!(Tool::new(0, r#"{"name":"x","inputSchema":{"type":"object","minProperties":"z"}}"#, None).is_err());
        assert!(Tool::new(0, "nope", None).is_err());
    }
}
