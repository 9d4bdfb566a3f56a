//! Test doubles shared by the unit tests of several modules.

use crate::session::{Call, Dispatcher, ReplyOutcome};
use serde_json::Value;
use std::sync::Arc;

/// A dispatcher with no handlers behind it: calls go nowhere (the protocol paths are what is under test).
pub struct NoHandlers;

impl Dispatcher for NoHandlers {
    fn call(&self, _: Arc<Call>, _: Value) {}
    fn cancel(&self, _: &Arc<Call>) {}
    fn closed(&self) {}
    fn reply(&self, _: u64, _: ReplyOutcome) {}
}
