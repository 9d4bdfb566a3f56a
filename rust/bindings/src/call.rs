//! `CallHandle`: one tool call in flight. Python answers it exactly once; the JSON-RPC envelope is built here.

use crate::convert::id_to_py;
use crate::errors::{self, ResultError};
use ferromcp_core::content;
use ferromcp_core::jsonrpc::{push_json_string, INTERNAL_ERROR};
use ferromcp_core::Call;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Arc;

#[pyclass(frozen, module = "ferromcp._core")]
pub struct CallHandle {
    pub call: Arc<Call>,
}

/// A handle dropped while its call is still unanswered (an event lost to an error in the Python loop, a
/// runtime bug): the client gets an error instead of silence, and the call leaves its session, which would
/// otherwise keep it, and itself, alive for good.
impl Drop for CallHandle {
    fn drop(&mut self) {
        if self.call.is_active() {
            tracing::warn!(request = %self.call.id.json(), "a call was dropped without an answer; answering with an error");
            self.call.respond_error(INTERNAL_ERROR, "Internal error: the server lost this call without answering it");
        }
    }
}

impl CallHandle {
    /// The key Python uses to find this call's task when a cancellation arrives.
    pub fn key_of(call: &Arc<Call>) -> usize {
        Arc::as_ptr(call) as usize
    }
}

fn text_block(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"{\"type\":\"text\",\"text\":");
    push_json_string(out, text);
    out.push(b'}');
}

fn close_result(out: &mut Vec<u8>, is_error: bool) {
    if is_error {
        out.extend_from_slice(b",\"isError\":true");
    }
    out.push(b'}');
}

impl CallHandle {
    /// A tool with an `outputSchema` must return structured content (clients reject results without it).
    fn require_structured(&self, is_error: bool) -> PyResult<()> {
        if self.call.expects_structured() && !is_error {
            return Err(ResultError::new_err("the tool declares an outputSchema but returned no structured content"));
        }
        Ok(())
    }
}

#[pymethods]
impl CallHandle {
    #[getter]
    fn key(&self) -> usize {
        Self::key_of(&self.call)
    }

    #[getter]
    fn request_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        id_to_py(py, self.call.id.json())
    }

    #[getter]
    fn progress_token<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.call.progress_token().map(|t| id_to_py(py, t)).transpose()
    }

    #[getter]
    fn handler_id(&self) -> u32 {
        self.call.handler_id
    }

    /// Who made the request (HTTP with authorization) as JSON text: `{"subject", "scopes", "claims",
    /// "client_id", "expires_at"}`; None without authorization.
    #[getter]
    fn principal(&self) -> Option<String> {
        crate::auth::principal_json(self.call.principal()?)
    }

    /// The protocol version the request is handled under (e.g. "2025-11-25").
    #[getter]
    fn protocol_version(&self) -> &'static str {
        self.call.protocol_version().as_str()
    }

    /// The client's declared capability (e.g. "sampling") as JSON text, or None if it did not declare it.
    fn client_capability(&self, name: &str) -> Option<String> {
        self.call.client_capability(name)
    }

    /// Whether the call may still become a task (a stateless call of a task-supporting tool whose client
    /// declared the tasks extension).
    #[getter]
    fn task_eligible(&self) -> bool {
        self.call.task_eligible()
    }

    /// Whether the tool requires running as a task.
    #[getter]
    fn task_required(&self) -> bool {
        self.call.task_required()
    }

    /// Turns the call into a task (the client gets a CreateTaskResult now); returns the task id.
    fn start_task(&self) -> PyResult<String> {
        self.call.start_task().map_err(errors::to_py)
    }

    /// Whether the request is a stateless (2026-07-28) one.
    #[getter]
    fn stateless(&self) -> bool {
        self.call.ctx.is_modern()
    }

    /// Whether the call may answer input-required (a 2026-07-28 tools/call, prompts/get or resources/read).
    #[getter]
    fn can_require_input(&self) -> bool {
        self.call.can_require_input()
    }

    /// The client's answer (JSON text) to input request `key`, from this retry or an earlier round, if it
    /// answered this `question` (the `{method, params}` JSON asked under that key).
    fn input_response(&self, key: &str, question: &[u8]) -> Option<String> {
        self.call.input_response(key, question)
    }

    /// Answers `resultType: "input_required"` with `requests` (a JSON object of input requests, as bytes),
    /// sealing the answers under the keys in `keep` into the `requestState` for the retry.
    fn respond_input_required(&self, requests: &[u8], keep: Vec<String>) -> PyResult<bool> {
        self.call.respond_input_required(requests, &keep).map_err(errors::to_py)
    }

    /// False once answered or cancelled by the client.
    #[getter]
    fn active(&self) -> bool {
        self.call.is_active()
    }

    /// `{"content":[{"type":"text","text":text}]}`.
    #[pyo3(signature = (text, is_error=false))]
    fn respond_text(&self, text: &str, is_error: bool) -> PyResult<bool> {
        self.require_structured(is_error)?;
        let mut out = Vec::with_capacity(48 + text.len());
        out.extend_from_slice(b"{\"content\":[");
        text_block(&mut out, text);
        out.push(b']');
        close_result(&mut out, is_error);
        Ok(self.call.respond(&out))
    }

    /// Structured output: `structuredContent` is `structured` (JSON bytes, spliced as is) and the content is one
    /// text block holding `text`, or the same JSON when `text` is None.
    #[pyo3(signature = (structured, text=None))]
    fn respond_structured(&self, structured: &[u8], text: Option<&str>) -> PyResult<bool> {
        self.call.check_output(structured).map_err(errors::to_py)?;
        let json = std::str::from_utf8(structured).map_err(|e| ResultError::new_err(e.to_string()))?;
        let shown = text.unwrap_or(json);
        let mut out = Vec::with_capacity(64 + shown.len() + 2 * json.len());
        out.extend_from_slice(b"{\"content\":[");
        text_block(&mut out, shown);
        out.extend_from_slice(b"],\"structuredContent\":");
        out.extend_from_slice(structured);
        out.push(b'}');
        Ok(self.call.respond(&out))
    }

    /// A non-object value as structured output: `structuredContent` is `{"result": value}` (value given as JSON
    /// bytes, spliced once) and the content is one text block holding `text`, or the value's JSON.
    #[pyo3(signature = (value, text=None))]
    fn respond_wrapped(&self, value: &[u8], text: Option<&str>) -> PyResult<bool> {
        let json = std::str::from_utf8(value).map_err(|e| ResultError::new_err(e.to_string()))?;
        if self.call.expects_structured() {
            self.call.check_output(format!("{{\"result\":{json}}}").as_bytes()).map_err(errors::to_py)?;
        }
        let shown = text.unwrap_or(json);
        let mut out = Vec::with_capacity(80 + shown.len() + json.len());
        out.extend_from_slice(b"{\"content\":[");
        text_block(&mut out, shown);
        out.extend_from_slice(b"],\"structuredContent\":{\"result\":");
        out.extend_from_slice(value);
        out.extend_from_slice(b"}}");
        Ok(self.call.respond(&out))
    }

    /// `content` is a JSON array of content blocks; `structured` optional JSON bytes.
    #[pyo3(signature = (content, structured=None, is_error=false))]
    fn respond_content(&self, content: &[u8], structured: Option<&[u8]>, is_error: bool) -> PyResult<bool> {
        match structured {
            Some(s) if !is_error => self.call.check_output(s).map_err(errors::to_py)?,
            None => self.require_structured(is_error)?,
            Some(_) => {}
        }
        // Blocks the session's protocol version predates are rewritten for it (a rare path: older clients only).
        let shaped = content::shape_blocks(content, self.call.protocol_version());
        let content = shaped.as_deref().unwrap_or(content);
        let mut out = Vec::with_capacity(48 + content.len() + structured.map_or(0, <[u8]>::len));
        out.extend_from_slice(b"{\"content\":");
        out.extend_from_slice(content);
        if let Some(s) = structured {
            out.extend_from_slice(b",\"structuredContent\":");
            out.extend_from_slice(s);
        }
        close_result(&mut out, is_error);
        Ok(self.call.respond(&out))
    }

    /// Answers with a complete result object given as JSON bytes (resources/read, prompts/get, ...).
    fn respond_raw(&self, result: &[u8]) -> bool {
        self.call.respond(result)
    }

    /// Answers with a JSON-RPC error instead of a result.
    #[pyo3(signature = (code, message, data=None))]
    fn respond_error(&self, code: i32, message: &str, data: Option<&[u8]>) -> PyResult<bool> {
        let data = data.map(std::str::from_utf8).transpose().map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(self.call.respond_error_data(code, message, data))
    }

    /// Sends a request to the client (sampling, elicitation, roots, ping) on this call's stream. The answer
    /// arrives through the transport's `drain()` as `(key, (is_error, json))`. Returns the request id (JSON).
    fn request(&self, method: &str, params: &[u8], key: u64) -> PyResult<String> {
        self.call.request(method, params, key).map_err(errors::to_py)
    }

    /// Gives up on a request sent with `request` (e.g. a timeout) and tells the client.
    #[pyo3(signature = (request_id, reason="timed out"))]
    fn cancel_request(&self, request_id: &str, reason: &str) -> bool {
        self.call.cancel_request(request_id, reason)
    }

    /// Closes the call's SSE stream now (the client reconnects and resumes); false where there is none.
    fn close_stream(&self) -> bool {
        self.call.close_stream()
    }

    /// Sends a notification on the session rather than on this call's stream. `params` is JSON bytes.
    fn notify_session(&self, method: &str, params: &[u8]) {
        self.call.notify_session(method, params);
    }

    /// Sends `notifications/progress` when the client asked for progress. Returns whether it was sent.
    #[pyo3(signature = (progress, total=None, message=None))]
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) -> bool {
        self.call.progress(progress, total, message)
    }

    /// Sends `notifications/message` if the session's level allows it. `data` is JSON bytes.
    #[pyo3(signature = (level, data, logger=None))]
    fn log(&self, level: &str, data: &[u8], logger: Option<&str>) -> PyResult<bool> {
        self.call.log(level, logger, data).map_err(errors::to_py)
    }
}
