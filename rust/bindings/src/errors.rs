//! The one place core errors become Python exceptions. Each class subclasses the built-in exception code that
//! catches broad categories already expects (`ValueError`, `RuntimeError`), and `ferromcp.errors` re-exports
//! them for users.

use ferromcp_core::error::CoreError;
use pyo3::exceptions::{PyNotImplementedError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::{create_exception, PyErr};

create_exception!(
    _core,
    DefinitionError,
    PyValueError,
    "A tool, resource, resource template or prompt definition (or its schema) is invalid."
);
create_exception!(
    _core,
    ResultError,
    PyValueError,
    "A handler's result does not conform to what was declared (the tool's outputSchema)."
);
create_exception!(_core, CallFinishedError, PyRuntimeError, "The call has already been answered or cancelled.");
create_exception!(
    _core,
    LimitError,
    PyRuntimeError,
    "A bound was reached (e.g. too many requests to the client waiting for an answer)."
);

/// Maps a core error to its exception.
pub fn to_py(error: CoreError) -> PyErr {
    let message = error.to_string();
    match error {
        CoreError::Definition(_) => DefinitionError::new_err(message),
        CoreError::Result(_) => ResultError::new_err(message),
        CoreError::Finished => CallFinishedError::new_err(message),
        CoreError::Limit(_) => LimitError::new_err(message),
        CoreError::Argument(_) => PyValueError::new_err(message),
        CoreError::Unsupported(_) => PyNotImplementedError::new_err(message),
    }
}

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("DefinitionError", py.get_type::<DefinitionError>())?;
    m.add("ResultError", py.get_type::<ResultError>())?;
    m.add("CallFinishedError", py.get_type::<CallFinishedError>())?;
    m.add("LimitError", py.get_type::<LimitError>())?;
    Ok(())
}
