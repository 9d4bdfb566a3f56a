//! The engine object: server facts and the tool registry.

use ferromcp_core::{Engine as CoreEngine, ServerConfig, Tool};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Arc;

#[pyclass(frozen, module = "ferromcp._core")]
pub struct Engine {
    pub inner: Arc<CoreEngine>,
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (server_info, instructions=None, page_size=100))]
    fn new(server_info: &str, instructions: Option<String>, page_size: usize) -> PyResult<Self> {
        let server_info: serde_json::Value =
            serde_json::from_str(server_info).map_err(|e| PyValueError::new_err(format!("server_info: {e}")))?;
        if !server_info.is_object() {
            return Err(PyValueError::new_err("server_info must be a JSON object"));
        }
        let config = ServerConfig { server_info, instructions, page_size: page_size.max(1) };
        Ok(Engine { inner: Arc::new(CoreEngine::new(config)) })
    }

    /// Registers (or replaces) a tool. `definition` is the Tool object as JSON; its input schema is compiled now.
    #[pyo3(signature = (tool_id, definition, accepts=None))]
    fn add_tool(&self, tool_id: u32, definition: &str, accepts: Option<Vec<String>>) -> PyResult<()> {
        let tool =
            Tool::new(tool_id, definition, accepts.map(|a| a.into_iter().collect())).map_err(PyValueError::new_err)?;
        self.inner.add_tool(tool);
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
