//! The engine object: server facts and the tool registry.

use crate::audit::ToPython;
use crate::errors::{self, DefinitionError};
use ferromcp_core::audit::Auditor;
use ferromcp_core::engine::{CacheHint, ResultFields, DEFAULT_STATE_TTL};
use ferromcp_core::rate_limit::{Rate, RateLimits};
use ferromcp_core::registry::{Prompt, Resource, ResourceTemplate};
use ferromcp_core::request_state::KeyRing;
use ferromcp_core::{Engine as CoreEngine, ServerConfig, Tool};
use pyo3::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

#[pyclass(frozen, module = "ferromcp._core")]
pub struct Engine {
    pub inner: Arc<CoreEngine>,
    audit: OnceLock<Arc<ToPython>>,
}

impl Engine {
    fn read_fields(&self, cache_hint: Option<&str>) -> PyResult<Option<Arc<ResultFields>>> {
        let Some(json) = cache_hint else { return Ok(None) };
        let hint: CacheHint =
            serde_json::from_str(json).map_err(|e| DefinitionError::new_err(format!("cache_hint: {e}")))?;
        self.inner.read_fields(&hint).map(Some).map_err(errors::to_py)
    }
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (
        server_info, instructions=None, page_size=100, cache_hints=None, request_state_keys=None,
        request_state_ttl=None
    ))]
    fn new(
        server_info: &str,
        instructions: Option<String>,
        page_size: usize,
        cache_hints: Option<&str>,
        request_state_keys: Option<Vec<String>>,
        request_state_ttl: Option<f64>,
    ) -> PyResult<Self> {
        let server_info: serde_json::Value =
            serde_json::from_str(server_info).map_err(|e| DefinitionError::new_err(format!("server_info: {e}")))?;
        if !server_info.is_object() {
            return Err(DefinitionError::new_err("server_info must be a JSON object"));
        }
        let cache_hints = match cache_hints {
            Some(json) => {
                serde_json::from_str(json).map_err(|e| DefinitionError::new_err(format!("cache_hints: {e}")))?
            }
            None => Default::default(),
        };
        let keys = request_state_keys
            .map(KeyRing::parse)
            .transpose()
            .map_err(|e| DefinitionError::new_err(format!("request_state_keys: {e}")))?;
        let ttl = match request_state_ttl {
            None => DEFAULT_STATE_TTL,
            Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Duration::from_secs_f64(s),
            Some(s) => return Err(DefinitionError::new_err(format!("request_state_ttl: {s} is not in (0, 86400] s"))),
        };
        let mut config = ServerConfig::new(server_info);
        config.instructions = instructions;
        config.page_size = page_size.max(1);
        config.cache_hints = cache_hints;
        config.request_state_keys = keys;
        config.request_state_ttl = ttl;
        Ok(Engine { inner: Arc::new(CoreEngine::new(config).map_err(errors::to_py)?), audit: OnceLock::new() })
    }

    /// Records every `tools/call`, `resources/read` and `prompts/get` from now on: `sink(record_json)` is called
    /// on a forwarder thread; `key` (at least 16 bytes) keys the HMAC of the arguments. Once per engine.
    fn set_audit(&self, key: &[u8], sink: Py<PyAny>) -> PyResult<()> {
        if key.len() < 16 {
            return Err(DefinitionError::new_err("audit key: at least 16 bytes"));
        }
        if self.audit.get().is_some() {
            return Err(DefinitionError::new_err("an audit sink is set already"));
        }
        let forwarder = ToPython::start(sink).map_err(|e| DefinitionError::new_err(format!("audit: {e}")))?;
        let _ = self.audit.set(forwarder.clone());
        self.inner.set_auditor(Arc::new(Auditor::new(key.to_vec(), forwarder)));
        Ok(())
    }

    /// Enforces rate limits from now on: `per_client` ("100/s") for every call of a client, `per_tool` ({name:
    /// rate}) for its calls of those tools. Once per engine; an invalid rate is a DefinitionError.
    #[pyo3(signature = (per_client=None, per_tool=None))]
    fn set_rate_limit(&self, per_client: Option<&str>, per_tool: Option<HashMap<String, String>>) -> PyResult<()> {
        let rate = |text: &str| Rate::parse(text).map_err(|e| DefinitionError::new_err(format!("rate_limit: {e}")));
        let mut limits = RateLimits { per_client: per_client.map(rate).transpose()?, ..RateLimits::default() };
        for (tool, text) in per_tool.unwrap_or_default() {
            limits.per_tool.insert(tool, rate(&text)?);
        }
        if !self.inner.set_rate_limits(limits) {
            return Err(DefinitionError::new_err("rate limits are set already"));
        }
        Ok(())
    }

    /// Waits until every audit record made so far has reached the sink, at most `timeout` seconds; False if
    /// some have not.
    fn flush_audit(&self, py: Python<'_>, timeout: f64) -> bool {
        let Some(forwarder) = self.audit.get().cloned() else { return true };
        let timeout = Duration::try_from_secs_f64(timeout).unwrap_or(Duration::ZERO);
        py.detach(move || forwarder.flush(timeout))
    }

    /// Registers (or replaces) a tool. `definition` is the Tool object as JSON; its input schema is compiled now.
    #[pyo3(signature = (tool_id, definition, accepts=None, scopes=None))]
    fn add_tool(
        &self,
        tool_id: u32,
        definition: &str,
        accepts: Option<Vec<String>>,
        scopes: Option<Vec<String>>,
    ) -> PyResult<()> {
        let mut tool =
            Tool::new(tool_id, definition, accepts.map(|a| a.into_iter().collect())).map_err(errors::to_py)?;
        tool.scopes = scopes.unwrap_or_default();
        self.inner.add_tool(tool);
        Ok(())
    }

    /// Registers (or replaces) a static resource from its `Resource` JSON object; `cache_hint` (JSON
    /// `{"ttlMs", "cacheScope"}`) is what its stateless reads carry instead of the `resources/read` default.
    #[pyo3(signature = (handler_id, definition, cache_hint=None, scopes=None))]
    fn add_resource(
        &self,
        handler_id: u32,
        definition: &str,
        cache_hint: Option<&str>,
        scopes: Option<Vec<String>>,
    ) -> PyResult<()> {
        let mut resource = Resource::new(handler_id, definition).map_err(errors::to_py)?;
        resource.fields = self.read_fields(cache_hint)?;
        resource.scopes = scopes.unwrap_or_default();
        self.inner.add_resource(resource);
        Ok(())
    }

    /// Registers (or replaces) a resource template from its `ResourceTemplate` JSON object (`cache_hint` as for
    /// `add_resource`, for every resource it matches).
    #[pyo3(signature = (handler_id, definition, cache_hint=None, scopes=None))]
    fn add_template(
        &self,
        handler_id: u32,
        definition: &str,
        cache_hint: Option<&str>,
        scopes: Option<Vec<String>>,
    ) -> PyResult<()> {
        let mut template = ResourceTemplate::new(handler_id, definition).map_err(errors::to_py)?;
        template.fields = self.read_fields(cache_hint)?;
        template.scopes = scopes.unwrap_or_default();
        self.inner.add_template(template);
        Ok(())
    }

    /// Removes a resource (by URI) or template (by URI template); false if there was none.
    fn remove_resource(&self, uri: &str) -> bool {
        self.inner.remove_resource(uri)
    }

    /// Registers (or replaces) a prompt from its `Prompt` JSON object.
    #[pyo3(signature = (handler_id, definition, scopes=None))]
    fn add_prompt(&self, handler_id: u32, definition: &str, scopes: Option<Vec<String>>) -> PyResult<()> {
        let mut prompt = Prompt::new(handler_id, definition).map_err(errors::to_py)?;
        prompt.scopes = scopes.unwrap_or_default();
        self.inner.add_prompt(prompt);
        Ok(())
    }

    fn remove_prompt(&self, name: &str) -> bool {
        self.inner.remove_prompt(name)
    }

    /// Sets (or clears, with None) the `completion/complete` handler.
    #[pyo3(signature = (handler_id=None))]
    fn set_completion(&self, handler_id: Option<u32>) {
        self.inner.set_completion(handler_id);
    }

    /// Sends `notifications/resources/updated` to the sessions subscribed to `uri`; returns how many.
    fn notify_resource_updated(&self, uri: &str) -> usize {
        self.inner.notify_resource_updated(uri)
    }

    /// Registers (or replaces) a request method beyond the protocol's own, answered by handler `handler_id`
    /// with the request's params; `cache_hint` (JSON `{"ttlMs", "cacheScope"}`) for its stateless results.
    #[pyo3(signature = (name, handler_id, cache_hint=None))]
    fn add_method(&self, name: &str, handler_id: u32, cache_hint: Option<&str>) -> PyResult<()> {
        let hint: Option<CacheHint> = cache_hint
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| DefinitionError::new_err(format!("cache_hint: {e}")))?;
        self.inner.add_method(name, handler_id, hint.as_ref()).map_err(errors::to_py)
    }

    /// Removes a custom method; false if there was none.
    fn remove_method(&self, name: &str) -> bool {
        self.inner.remove_method(name)
    }

    /// Declares an extension (settings as a JSON object) under `capabilities.extensions`, or withdraws it (None).
    #[pyo3(signature = (name, settings=None))]
    fn set_extension(&self, name: &str, settings: Option<&str>) -> PyResult<()> {
        let settings: Option<serde_json::Value> = settings
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| DefinitionError::new_err(format!("extension settings: {e}")))?;
        if settings.as_ref().is_some_and(|v| !v.is_object()) {
            return Err(DefinitionError::new_err("extension settings must be a JSON object"));
        }
        self.inner.set_extension(name, settings);
        Ok(())
    }

    /// Removes a tool; false if there was none of that name.
    fn remove_tool(&self, name: &str) -> bool {
        self.inner.remove_tool(name)
    }

    fn tool_count(&self) -> usize {
        self.inner.registry().len()
    }
}
