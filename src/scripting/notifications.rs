//! Notification scripts: one `notifications/<event>.rhai` per event, whose `render(ctx)` returns
//! the email (subject, text, optional HTML) and the SMS text, or `()` to send nothing.

use super::{convert, ScriptError, ScriptHost};
use crate::domain::notifications::{Rendered, EVENTS};
use serde_json::Value;

impl ScriptHost {
    /// Renders `event` for `ctx` (the service builds it: `service::messages::template_context`). `Ok(None)`: send nothing (the
    /// script returned `()`, or its file is empty). Unknown event: `ScriptError::NotFound`.
    pub fn render(&self, event: &str, ctx: &Value) -> Result<Option<Rendered>, ScriptError> {
        let script = self
            .notifications
            .get(event)
            .ok_or_else(|| ScriptError::NotFound {
                what: format!(
                    "no notification event {event:?} (events: {})",
                    EVENTS.join(", ")
                ),
            })?;
        let Some(ast) = &script.ast else {
            return Ok(None);
        };
        let arg = convert::json_to_dynamic(ctx).map_err(|message| ScriptError::Runtime {
            path: script.path.clone(),
            function: "render".into(),
            message: format!("the context could not be converted: {message}"),
        })?;
        let out = self.call(&script.path, ast, "render", (arg,))?;
        convert::rendered(out).map_err(|message| ScriptError::BadReturn {
            path: script.path.clone(),
            function: "render".into(),
            message,
        })
    }
}
