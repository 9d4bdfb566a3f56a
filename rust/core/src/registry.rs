//! The registry: tools (with compiled input validators), resources, resource templates, prompts and the
//! completion handler, each kind with pre-serialized list pages.
//!
//! A registry is immutable once built; a change builds a new one and swaps it in, so readers never wait on a
//! writer and the list pages are serialized once per change, not per request.

use crate::engine::ResultFields;
use crate::error::CoreError;
use crate::http::routing::ParamHeaders;
use crate::schema::CompiledSchema;
use crate::uri_template::UriTemplate;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

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
    /// `execution.taskSupport`: whether the tool may (or must) run as a task.
    pub task_support: TaskSupport,
    /// The compiled `outputSchema`, which every structured result is checked against.
    pub output: Option<Arc<CompiledSchema>>,
    /// Arguments mirrored in `Mcp-Param-*` headers (`x-mcp-header` in the input schema), checked on stateless
    /// HTTP requests; worked out once, here.
    pub param_headers: ParamHeaders,
    /// OAuth scopes a caller's token must grant to see and call the tool (HTTP with authorization only).
    pub scopes: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskSupport {
    Forbidden,
    Optional,
    Required,
}

impl Tool {
    /// Builds a tool from its `Tool` JSON object. The `inputSchema` must be an object schema.
    /// A tool from its JSON definition; `accepts` names the arguments the handler takes (others are dropped).
    pub fn new(id: u32, definition: &str, accepts: Option<HashSet<String>>) -> Result<Tool, CoreError> {
        Self::parse(id, definition, accepts).map_err(CoreError::Definition)
    }

    fn parse(id: u32, definition: &str, accepts: Option<HashSet<String>>) -> Result<Tool, String> {
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
        let task_support = match value.pointer("/execution/taskSupport").and_then(Value::as_str) {
            None | Some("forbidden") => TaskSupport::Forbidden,
            Some("optional") => TaskSupport::Optional,
            Some("required") => TaskSupport::Required,
            Some(other) => return Err(format!("tool {name:?}: unknown execution.taskSupport {other:?}")),
        };
        let output = match value.get("outputSchema") {
            Some(schema) => Some(Arc::new(
                CompiledSchema::compile(schema).map_err(|e| format!("tool {name:?}: outputSchema: {e}"))?,
            )),
            None => None,
        };
        let param_headers = ParamHeaders::from_schema(schema).map_err(|e| format!("tool {name:?}: {e}"))?;
        let definition = compact_raw(definition)?;
        Ok(Tool {
            id,
            name: name.to_owned(),
            definition,
            input,
            accepts,
            task_support,
            output,
            param_headers,
            scopes: Vec::new(),
        })
    }
}

/// Anything listed by a `*/list` method: a key (name or URI) and its definition object.
pub trait Listed {
    fn key(&self) -> &str;
    fn definition(&self) -> &RawValue;
    /// OAuth scopes needed to see and use it (none: everyone who may use the server).
    fn scopes(&self) -> &[String];
}

/// Whether a caller granted `granted` scopes may see and use something that needs `needed`.
pub fn permits(needed: &[String], granted: &[String]) -> bool {
    needed.iter().all(|s| granted.contains(s))
}

impl Listed for Tool {
    fn key(&self) -> &str {
        &self.name
    }
    fn definition(&self) -> &RawValue {
        &self.definition
    }
    fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

/// A static resource (`resources/list`, read by exact URI).
pub struct Resource {
    pub id: u32,
    pub uri: String,
    pub definition: Box<RawValue>,
    /// What its stateless reads carry (its own caching hint) when it has one; the method's otherwise.
    pub fields: Option<Arc<ResultFields>>,
    /// As for [`Tool::scopes`].
    pub scopes: Vec<String>,
}

/// A resource template (`resources/templates/list`, read by matching the URI).
pub struct ResourceTemplate {
    pub id: u32,
    pub template: UriTemplate,
    pub definition: Box<RawValue>,
    /// As for [`Resource::fields`].
    pub fields: Option<Arc<ResultFields>>,
    /// As for [`Tool::scopes`], for every resource it matches.
    pub scopes: Vec<String>,
}

/// The resource or template a URI names: its handler, the template's variables, and its result fields.
pub struct Resolved {
    pub handler: u32,
    /// The scopes the resource (or the template it matched) needs.
    pub scopes: Vec<String>,
    pub vars: BTreeMap<String, String>,
    pub fields: Option<Arc<ResultFields>>,
}

/// A prompt and the arguments it declares.
pub struct Prompt {
    pub id: u32,
    pub name: String,
    pub definition: Box<RawValue>,
    pub required: Vec<String>,
    pub arguments: HashSet<String>,
    /// As for [`Tool::scopes`].
    pub scopes: Vec<String>,
}

/// The definition as given (key order and all), unless it spans lines: list pages are spliced into
/// newline-delimited stdio messages, so those are re-serialized compactly.
fn compact_raw(definition: &str) -> Result<Box<RawValue>, String> {
    let text = definition.trim();
    if text.contains(['\n', '\r']) {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        return RawValue::from_string(value.to_string()).map_err(|e| e.to_string());
    }
    RawValue::from_string(text.to_owned()).map_err(|e| e.to_string())
}

fn definition_object(definition: &str, what: &str) -> Result<(Value, Box<RawValue>), String> {
    let value: Value = serde_json::from_str(definition).map_err(|e| format!("{what} definition is not JSON: {e}"))?;
    if !value.is_object() {
        return Err(format!("{what} definition must be a JSON object"));
    }
    Ok((value, compact_raw(definition)?))
}

fn string_field<'a>(value: &'a Value, field: &str, what: &str) -> Result<&'a str, String> {
    match value.get(field).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(format!("{what} definition needs a non-empty string {field:?}")),
    }
}

impl Resource {
    /// A resource from its JSON definition.
    pub fn new(id: u32, definition: &str) -> Result<Resource, CoreError> {
        Self::parse(id, definition).map_err(CoreError::Definition)
    }

    fn parse(id: u32, definition: &str) -> Result<Resource, String> {
        let (value, definition) = definition_object(definition, "resource")?;
        string_field(&value, "name", "resource")?;
        let uri = string_field(&value, "uri", "resource")?.to_owned();
        Ok(Resource { id, uri, definition, fields: None, scopes: Vec::new() })
    }
}

impl Listed for Resource {
    fn key(&self) -> &str {
        &self.uri
    }
    fn definition(&self) -> &RawValue {
        &self.definition
    }
    fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

impl ResourceTemplate {
    /// A resource template from its JSON definition.
    pub fn new(id: u32, definition: &str) -> Result<ResourceTemplate, CoreError> {
        Self::parse(id, definition).map_err(CoreError::Definition)
    }

    fn parse(id: u32, definition: &str) -> Result<ResourceTemplate, String> {
        let (value, definition) = definition_object(definition, "resource template")?;
        string_field(&value, "name", "resource template")?;
        let template = UriTemplate::parse(string_field(&value, "uriTemplate", "resource template")?)?;
        Ok(ResourceTemplate { id, template, definition, fields: None, scopes: Vec::new() })
    }
}

impl Listed for ResourceTemplate {
    fn key(&self) -> &str {
        &self.template.text
    }
    fn definition(&self) -> &RawValue {
        &self.definition
    }
    fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

impl Prompt {
    /// A prompt from its JSON definition.
    pub fn new(id: u32, definition: &str) -> Result<Prompt, CoreError> {
        Self::parse(id, definition).map_err(CoreError::Definition)
    }

    fn parse(id: u32, definition: &str) -> Result<Prompt, String> {
        let (value, definition) = definition_object(definition, "prompt")?;
        let name = string_field(&value, "name", "prompt")?.to_owned();
        let mut required = Vec::new();
        let mut arguments = HashSet::new();
        for arg in value.get("arguments").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let arg_name = string_field(arg, "name", "prompt argument")?;
            arguments.insert(arg_name.to_owned());
            if arg.get("required").and_then(Value::as_bool) == Some(true) {
                required.push(arg_name.to_owned());
            }
        }
        Ok(Prompt { id, name, definition, required, arguments, scopes: Vec::new() })
    }
}

impl Listed for Prompt {
    fn key(&self) -> &str {
        &self.name
    }
    fn definition(&self) -> &RawValue {
        &self.definition
    }
    fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

/// One listed kind: entries in registration order, an index by key, and the pre-serialized pages.
pub struct Collection<T> {
    items: Vec<Arc<T>>,
    index: HashMap<String, usize>,
    pages: Vec<Vec<u8>>,
    page_size: usize,
    field: &'static str,
    /// Some entry needs scopes: a caller's pages are then built for what it may see.
    restricted: bool,
}

/// One list page: the definitions of `chunk`, and the cursor of the next page when there is one.
fn render_page<'a>(field: &str, chunk: impl Iterator<Item = &'a RawValue>, next: Option<usize>) -> Vec<u8> {
    let mut page = format!("{{\"{field}\":[").into_bytes();
    for (i, definition) in chunk.enumerate() {
        if i > 0 {
            page.push(b',');
        }
        page.extend_from_slice(definition.get().as_bytes());
    }
    page.push(b']');
    if let Some(next) = next {
        page.extend_from_slice(format!(",\"nextCursor\":\"{next}\"").as_bytes());
    }
    page.push(b'}');
    page
}

/// The page index a cursor names (`None` = the first page); None for a cursor this registry never gave.
fn page_index(cursor: Option<&str>, page_size: usize) -> Option<usize> {
    match cursor {
        None => Some(0),
        Some(c) => {
            let offset: usize = c.parse().ok()?;
            if offset == 0 || !offset.is_multiple_of(page_size) {
                return None;
            }
            Some(offset / page_size)
        }
    }
}

impl<T: Listed> Collection<T> {
    fn build(items: Vec<Arc<T>>, field: &'static str, page_size: usize) -> Self {
        let page_size = page_size.max(1);
        let index = items.iter().enumerate().map(|(i, t)| (t.key().to_owned(), i)).collect();
        let chunks: Vec<&[Arc<T>]> = if items.is_empty() { vec![&[]] } else { items.chunks(page_size).collect() };
        let last = chunks.len() - 1;
        let mut pages = Vec::with_capacity(chunks.len());
        for (n, chunk) in chunks.iter().enumerate() {
            let next = (n < last).then_some((n + 1) * page_size);
            pages.push(render_page(field, chunk.iter().map(|item| item.definition()), next));
        }
        let restricted = items.iter().any(|item| !item.scopes().is_empty());
        Collection { items, index, pages, page_size, field, restricted }
    }

    fn with(&self, item: T) -> Self {
        let mut items: Vec<Arc<T>> = self.items.iter().filter(|t| t.key() != item.key()).cloned().collect();
        items.push(Arc::new(item));
        Self::build(items, self.field, self.page_size)
    }

    fn without(&self, key: &str) -> Option<Self> {
        self.index.get(key)?;
        let items = self.items.iter().filter(|t| t.key() != key).cloned().collect();
        Some(Self::build(items, self.field, self.page_size))
    }

    fn resized(&self, page_size: usize) -> Self {
        Self::build(self.items.clone(), self.field, page_size)
    }

    pub fn get(&self, key: &str) -> Option<&Arc<T>> {
        self.index.get(key).map(|&i| &self.items[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<T>> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The page for a cursor (`None` = first page). An unknown cursor is `None`.
    pub fn page(&self, cursor: Option<&str>) -> Option<&[u8]> {
        self.pages.get(page_index(cursor, self.page_size)?).map(Vec::as_slice)
    }

    /// Whether some entry needs scopes.
    pub fn is_restricted(&self) -> bool {
        self.restricted
    }

    /// The page for a cursor as a caller granted `granted` scopes sees it (None: no authorization in use,
    /// everything is listed): entries needing scopes it lacks are left out, and pages are counted over what
    /// it may see.
    pub fn page_for(&self, cursor: Option<&str>, granted: Option<&[String]>) -> Option<Cow<'_, [u8]>> {
        let Some(granted) = granted.filter(|_| self.restricted) else {
            return self.page(cursor).map(Cow::Borrowed);
        };
        let index = page_index(cursor, self.page_size)?;
        let visible: Vec<&Arc<T>> = self.items.iter().filter(|item| permits(item.scopes(), granted)).collect();
        let start = index * self.page_size;
        if start > 0 && start >= visible.len() {
            return None;
        }
        let end = (start + self.page_size).min(visible.len());
        let next = (end < visible.len()).then_some(end);
        Some(Cow::Owned(render_page(self.field, visible[start..end].iter().map(|item| item.definition()), next)))
    }
}

/// What a registry change touched, for `notifications/*/list_changed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    Tools,
    Resources,
    Prompts,
}

pub struct Registry {
    pub tools: Collection<Tool>,
    pub resources: Collection<Resource>,
    pub templates: Collection<ResourceTemplate>,
    pub prompts: Collection<Prompt>,
    /// The handler for `completion/complete`, if any.
    pub completion: Option<u32>,
    /// The `server/discover` result for this registry, serialized on first use (a change makes a new registry).
    pub discover: OnceLock<Vec<u8>>,
    /// Request methods the embedder answers beyond the protocol's own (an extension's, e.g. `skills/list`).
    pub methods: BTreeMap<String, CustomMethod>,
    /// Extensions declared under `capabilities.extensions` (2026-07-28), with their settings.
    pub extensions: BTreeMap<String, Value>,
}

/// A request method the embedder's handler answers; `fields` is what its stateless results carry (caching
/// hints included) when they are not the plain ones.
#[derive(Clone)]
pub struct CustomMethod {
    pub handler: u32,
    pub fields: Option<Arc<ResultFields>>,
}

impl Registry {
    pub fn new(page_size: usize) -> Self {
        Registry {
            tools: Collection::build(Vec::new(), "tools", page_size),
            resources: Collection::build(Vec::new(), "resources", page_size),
            templates: Collection::build(Vec::new(), "resourceTemplates", page_size),
            prompts: Collection::build(Vec::new(), "prompts", page_size),
            completion: None,
            discover: OnceLock::new(),
            methods: BTreeMap::new(),
            extensions: BTreeMap::new(),
        }
    }

    fn share(&self) -> Registry {
        Registry {
            tools: self.tools.resized(self.tools.page_size),
            resources: self.resources.resized(self.resources.page_size),
            templates: self.templates.resized(self.templates.page_size),
            prompts: self.prompts.resized(self.prompts.page_size),
            completion: self.completion,
            discover: OnceLock::new(),
            methods: self.methods.clone(),
            extensions: self.extensions.clone(),
        }
    }

    /// A new registry with `tool` added, replacing any tool of the same name.
    pub fn with_tool(&self, tool: Tool) -> Registry {
        Registry { tools: self.tools.with(tool), ..self.share() }
    }

    /// A new registry without the named tool, or `None` if there is no such tool.
    pub fn without_tool(&self, name: &str) -> Option<Registry> {
        Some(Registry { tools: self.tools.without(name)?, ..self.share() })
    }

    pub fn with_resource(&self, resource: Resource) -> Registry {
        Registry { resources: self.resources.with(resource), ..self.share() }
    }

    pub fn with_template(&self, template: ResourceTemplate) -> Registry {
        Registry { templates: self.templates.with(template), ..self.share() }
    }

    /// Removes a resource or a resource template by its URI (or URI template).
    pub fn without_resource(&self, uri: &str) -> Option<Registry> {
        if let Some(resources) = self.resources.without(uri) {
            return Some(Registry { resources, ..self.share() });
        }
        Some(Registry { templates: self.templates.without(uri)?, ..self.share() })
    }

    pub fn with_prompt(&self, prompt: Prompt) -> Registry {
        Registry { prompts: self.prompts.with(prompt), ..self.share() }
    }

    pub fn without_prompt(&self, name: &str) -> Option<Registry> {
        Some(Registry { prompts: self.prompts.without(name)?, ..self.share() })
    }

    pub fn with_method(&self, name: &str, method: Option<CustomMethod>) -> Registry {
        let mut next = self.share();
        match method {
            Some(m) => next.methods.insert(name.to_owned(), m),
            None => next.methods.remove(name),
        };
        next
    }

    pub fn with_extension(&self, name: &str, settings: Option<Value>) -> Registry {
        let mut next = self.share();
        match settings {
            Some(v) => next.extensions.insert(name.to_owned(), v),
            None => next.extensions.remove(name),
        };
        next
    }

    pub fn with_completion(&self, handler: Option<u32>) -> Registry {
        Registry { completion: handler, ..self.share() }
    }

    pub fn with_page_size(&self, page_size: usize) -> Registry {
        Registry {
            tools: self.tools.resized(page_size),
            resources: self.resources.resized(page_size),
            templates: self.templates.resized(page_size),
            prompts: self.prompts.resized(page_size),
            completion: self.completion,
            discover: OnceLock::new(),
            methods: self.methods.clone(),
            extensions: self.extensions.clone(),
        }
    }

    /// Whether any tool can run as a task (the `tasks` capability).
    pub fn has_task_tools(&self) -> bool {
        self.tools.iter().any(|t| t.task_support != TaskSupport::Forbidden)
    }

    pub fn tool(&self, name: &str) -> Option<&Arc<Tool>> {
        self.tools.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    pub fn len(&self) -> usize {
        self.tools.len()
    }

    /// The `tools/list` page for a cursor.
    pub fn page(&self, cursor: Option<&str>) -> Option<&[u8]> {
        self.tools.page(cursor)
    }

    /// Whether anything registered needs scopes.
    pub fn is_restricted(&self) -> bool {
        self.tools.restricted || self.resources.restricted || self.templates.restricted || self.prompts.restricted
    }

    /// The handler that reads `uri` and the variables of the template it matched (static resources first).
    pub fn resolve_resource(&self, uri: &str) -> Option<Resolved> {
        if let Some(r) = self.resources.get(uri) {
            let (handler, fields, scopes) = (r.id, r.fields.clone(), r.scopes.clone());
            return Some(Resolved { handler, vars: BTreeMap::new(), fields, scopes });
        }
        self.templates.iter().find_map(|t| {
            let matched = t.template.matches(uri)?;
            Some(Resolved { handler: t.id, vars: matched, fields: t.fields.clone(), scopes: t.scopes.clone() })
        })
    }

    /// The scopes a request needs beyond the server's own: those of the tool it calls, the resource it reads
    /// or subscribes to, the prompt it gets or completes. Empty for everything else.
    pub fn scopes_for(&self, method: &str, params: Option<&RawValue>) -> Vec<String> {
        #[derive(serde::Deserialize, Default)]
        struct Target {
            #[serde(default)]
            name: Option<String>,
            #[serde(default)]
            uri: Option<String>,
            #[serde(rename = "ref", default)]
            reference: Option<Box<Target>>,
        }
        let restricted = match method {
            "tools/call" => self.tools.restricted,
            "prompts/get" => self.prompts.restricted,
            "resources/read" | "resources/subscribe" => self.resources.restricted || self.templates.restricted,
            "completion/complete" => self.prompts.restricted || self.templates.restricted,
            _ => false,
        };
        if !restricted {
            return Vec::new();
        }
        let target: Target = params.and_then(|p| serde_json::from_str(p.get()).ok()).unwrap_or_default();
        let by_uri =
            |uri: Option<&String>| uri.and_then(|u| self.resolve_resource(u)).map(|r| r.scopes).unwrap_or_default();
        match method {
            "tools/call" => target.name.and_then(|n| self.tools.get(&n).map(|t| t.scopes.clone())),
            "prompts/get" => target.name.and_then(|n| self.prompts.get(&n).map(|p| p.scopes.clone())),
            "completion/complete" => target.reference.map(|r| match (&r.name, &r.uri) {
                (Some(name), _) => self.prompts.get(name).map(|p| p.scopes.clone()).unwrap_or_default(),
                (None, Some(uri)) => self
                    .templates
                    .iter()
                    .find(|t| &t.template.text == uri)
                    .map(|t| t.scopes.clone())
                    .unwrap_or_default(),
                (None, None) => Vec::new(),
            }),
            _ => Some(by_uri(target.uri.as_ref())),
        }
        .unwrap_or_default()
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

#[cfg(test)]
mod more_tests {
    use super::*;

    #[test]
    fn resources_templates_and_prompts() {
        let reg = Registry::new(10)
            .with_resource(Resource::new(1, r#"{"uri":"test://a","name":"a"}"#).unwrap_or_else(|e| panic!("{e}")))
            .with_template(
                ResourceTemplate::new(2, r#"{"uriTemplate":"test://t/{id}","name":"t"}"#)
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .with_prompt(
                Prompt::new(3, r#"{"name":"p","arguments":[{"name":"x","required":true},{"name":"y"}]}"#)
                    .unwrap_or_else(|e| panic!("{e}")),
            );
        assert_eq!(reg.resolve_resource("test://a").map(|r| r.handler), Some(1));
        let found = reg.resolve_resource("test://t/42").map(|r| (r.handler, r.vars.get("id").cloned()));
        assert_eq!(found, Some((2, Some("42".to_owned()))));
        assert!(reg.resolve_resource("test://zzz").is_none());
        assert_eq!(reg.resources.page(None), Some(&br#"{"resources":[{"uri":"test://a","name":"a"}]}"#[..]));
        assert!(String::from_utf8_lossy(reg.templates.page(None).unwrap_or_default())
            .starts_with("{\"resourceTemplates\":["));
        let p = reg.prompts.get("p").map(|p| (p.required.clone(), p.arguments.len()));
        assert_eq!(p, Some((vec!["x".to_owned()], 2)));
        let reg = reg.without_resource("test://t/{id}").unwrap_or_else(|| panic!("template not removed"));
        assert!(reg.resolve_resource("test://t/42").is_none());
        assert!(Resource::new(1, r#"{"uri":"x"}"#).is_err());
        assert!(ResourceTemplate::new(1, r#"{"uriTemplate":"x{","name":"n"}"#).is_err());
    }
}
