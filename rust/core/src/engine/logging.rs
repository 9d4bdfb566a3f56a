//! `logging/setLevel`: the session's threshold for `notifications/message`.

use super::table::Req;
use super::Engine;
use crate::error::McpError;
use crate::protocol;
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
struct SetLevelParams<'a> {
    #[serde(borrow)]
    level: Cow<'a, str>,
}

pub(super) fn set_level(_: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let p: SetLevelParams<'_> = req.params()?;
    let rank = protocol::log_rank(&p.level)
        .ok_or_else(|| McpError::invalid_params(format!("Invalid params: unknown log level {:?}", p.level)))?;
    req.session.set_log_rank(rank);
    req.answer(b"{}");
    Ok(())
}
