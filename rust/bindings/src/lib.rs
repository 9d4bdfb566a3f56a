//! `ferromcp._core`: the only place PyO3 appears. Glue between ferromcp-core and the Python API.
//!
//! - [`auth`]: the JWT verifier, the Python token verifier's hand-off, the principal for Python.
//! - [`engine`]: the registry/engine object Python builds at decoration time.
//! - [`call`]: `CallHandle`, one in-flight tool call, answered from Python.
//! - [`queue`]: the hand-off of ready calls to the Python loop thread, one wake-up per batch.
//! - [`convert`]: JSON values to Python objects.
//! - [`stdio`]: the stdio transport object.
//! - [`http`]: the Streamable HTTP transport object.
//! - [`errors`]: core errors mapped to Python exception classes (the one place).
//! - [`logging`]: the core's `tracing` events, forwarded to Python's `logging`.

use pyo3::prelude::*;

mod audit;
mod auth;
mod call;
mod convert;
mod engine;
mod errors;
mod http;
mod logging;
mod queue;
mod stdio;

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let legacy: Vec<&str> = ferromcp_core::protocol::ProtocolVersion::LEGACY.iter().map(|v| v.as_str()).collect();
    m.add("LEGACY_PROTOCOL_VERSIONS", legacy)?;
    errors::register(m)?;
    m.add_class::<engine::Engine>()?;
    m.add_class::<call::CallHandle>()?;
    m.add_class::<stdio::StdioServer>()?;
    m.add_class::<http::HttpServer>()?;
    m.add_class::<auth::JwtVerifier>()?;
    m.add_class::<auth::TokenCheck>()?;
    m.add_function(wrap_pyfunction!(logging::set_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(logging::flush_logs, m)?)?;
    Ok(())
}
