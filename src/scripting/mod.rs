//! The script host: merchant-editable Rhai scripts for notification texts and carrier rates,
//! compiled once into shared ASTs on one sandboxed engine, with built-in defaults.
//!
//! # Layout of a scripts folder
//! ```text
//! <dir>/notifications/<event>.rhai   fn render(ctx)             (see notifications::EVENTS)
//! <dir>/carriers/<id>.rhai           fn carrier(), fn rates(request),
//!                                    fn tracking_url(number), fn label(request, service)
//! ```
//! Every file the folder lacks comes from the defaults embedded in the binary (the repository's
//! `scripts/`), so orderdeck runs with no folder at all. An empty file (or one holding only
//! comments) turns that script off: the event sends nothing, the carrier is not offered.
//! Code outside functions is never run (`call_fn_with_options` with `eval_ast(false)`): put
//! tables and constants inside functions.
//!
//! # Using it
//! ```no_run
//! # use orderdeck::scripting::*;
//! let registry = ScriptRegistry::load(None).map_err(|errs| errs.len())?; // startup: all compile errors
//! let host = registry.current();              // cheap Arc clone, per request
//! let rendered = host.render("order_placed", &serde_json::json!({}));
//! # Ok::<(), usize>(())
//! ```
//! Failures are [`ScriptError`]s; no script can crash or hang the process: every call runs
//! under [`Limits`] (operations, sizes, depth, and a 100 ms wall-clock deadline).

mod carriers;
mod convert;
mod notifications;
mod sandbox;

pub use crate::domain::notifications::{Recipient, Rendered, RenderedEmail, StoreInfo, EVENTS};
pub use crate::domain::shipping::{
    CarrierInfo, Declined, Label, Package, Party, Rate, RateItem, RateRequest, RatesResult,
    ServiceInfo,
};
pub use sandbox::{format_money, html_escape, Limits};

use rhai::{Dynamic, Engine, EvalAltResult, AST};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The default scripts compiled into the binary, by path relative to the scripts folder.
pub const DEFAULT_SCRIPTS: &[(&str, &str)] = &[
    (
        "notifications/order_placed.rhai",
        include_str!("../../scripts/notifications/order_placed.rhai"),
    ),
    (
        "notifications/order_placed_store.rhai",
        include_str!("../../scripts/notifications/order_placed_store.rhai"),
    ),
    (
        "notifications/payment_status_changed.rhai",
        include_str!("../../scripts/notifications/payment_status_changed.rhai"),
    ),
    (
        "notifications/fulfillment_status_changed.rhai",
        include_str!("../../scripts/notifications/fulfillment_status_changed.rhai"),
    ),
    (
        "notifications/shipment_updated.rhai",
        include_str!("../../scripts/notifications/shipment_updated.rhai"),
    ),
    (
        "carriers/national_post.rhai",
        include_str!("../../scripts/carriers/national_post.rhai"),
    ),
    (
        "carriers/express.rhai",
        include_str!("../../scripts/carriers/express.rhai"),
    ),
    (
        "carriers/local_courier.rhai",
        include_str!("../../scripts/carriers/local_courier.rhai"),
    ),
];

/// The merchant's guide to writing scripts, written next to the scripts by [`export_defaults`].
pub const SCRIPTS_README: &str = include_str!("../../scripts/README.md");

/// Why a script could not be loaded or run. Every variant names the script's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// The script does not compile, cannot be read, or lacks a required function.
    /// `line` and `col` are 1-based; 0 means the problem has no position (a missing function).
    #[error("{}", compile_display(.path, *.line, *.col, .message))]
    Compile {
        path: String,
        line: usize,
        col: usize,
        message: String,
    },
    /// The script failed while running: an error, `throw`, or a limit (time, operations, size).
    #[error("{path}: {function}(): {message}")]
    Runtime {
        path: String,
        function: String,
        message: String,
    },
    /// The script ran but returned something of the wrong shape.
    #[error("{path}: {function}() returned {message}")]
    BadReturn {
        path: String,
        function: String,
        message: String,
    },
    /// No script for that event or carrier (or it is turned off), or no such service.
    #[error("{what}")]
    NotFound { what: String },
    /// The carrier refused this shipment (buying a label for a service it declines).
    #[error("{carrier} declined: {reason}")]
    Declined { carrier: String, reason: String },
}

fn compile_display(path: &str, line: usize, col: usize, message: &str) -> String {
    if line == 0 {
        format!("{path}: {message}")
    } else {
        format!("{path}:{line}:{col}: {message}")
    }
}

/// What a script is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptKind {
    Notification,
    Carrier,
}

/// Where a loaded script came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptSource {
    /// The default compiled into the binary.
    Embedded,
    /// The merchant's scripts folder.
    Folder,
}

/// One loaded script, for the settings page and `orderdeck scripts check`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScriptInfo {
    /// The event (`order_placed`) or carrier id (`national_post`): the file name without `.rhai`.
    pub name: String,
    /// The path shown in errors: the file in the folder, or `scripts/…` for an embedded default.
    pub path: String,
    pub kind: ScriptKind,
    pub source: ScriptSource,
    /// False when the file is empty (the script is turned off).
    pub enabled: bool,
}

/// One compiled script. `ast` is `None` when the file is empty (turned off).
struct Compiled {
    path: String,
    ast: Option<AST>,
}

/// A carrier script and what its `carrier()` said at load time.
struct CarrierScript {
    compiled: Compiled,
    info: CarrierInfo,
}

/// All scripts, compiled, on one sandboxed engine. `Send + Sync`: share it (in an `Arc`, or
/// through [`ScriptRegistry`]) across all workers. Loading is all-or-nothing.
pub struct ScriptHost {
    engine: Engine,
    limits: Limits,
    notifications: BTreeMap<String, Compiled>,
    carriers: BTreeMap<String, CarrierScript>,
    infos: Vec<ScriptInfo>,
}

impl std::fmt::Debug for ScriptHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptHost")
            .field("scripts", &self.infos)
            .finish_non_exhaustive()
    }
}

/// A script's text before compiling.
struct SourceText {
    /// `notifications/order_placed.rhai`
    rel: String,
    path: String,
    text: String,
    source: ScriptSource,
}

impl ScriptHost {
    /// Loads every script: the folder's files, and the embedded default for each one it lacks
    /// (all defaults when `dir` is `None` or does not exist). Returns every compile error at once.
    pub fn load(dir: Option<&Path>) -> Result<ScriptHost, Vec<ScriptError>> {
        Self::load_with_limits(dir, Limits::default())
    }

    /// [`ScriptHost::load`] with other limits (tests, or a slower machine).
    pub fn load_with_limits(
        dir: Option<&Path>,
        limits: Limits,
    ) -> Result<ScriptHost, Vec<ScriptError>> {
        let sources = collect_sources(dir)?;
        let mut host = ScriptHost {
            engine: sandbox::engine(&limits),
            limits,
            notifications: BTreeMap::new(),
            carriers: BTreeMap::new(),
            infos: Vec::new(),
        };
        let mut errors = Vec::new();
        for src in sources {
            if let Err(e) = host.add(src) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(host)
        } else {
            Err(errors)
        }
    }

    /// Compiles everything [`ScriptHost::load`] would and returns the loaded scripts' paths
    /// (notifications first), or every error. For `orderdeck scripts check [DIR]`.
    pub fn check(dir: Option<&Path>) -> Result<Vec<String>, Vec<ScriptError>> {
        Ok(Self::load(dir)?.infos.into_iter().map(|i| i.path).collect())
    }

    /// Every loaded script, notifications first, each group by name.
    pub fn scripts(&self) -> Vec<ScriptInfo> {
        self.infos.clone()
    }

    /// The limits calls run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn add(&mut self, src: SourceText) -> Result<(), ScriptError> {
        let compile_err = |message: String| ScriptError::Compile {
            path: src.path.clone(),
            line: 0,
            col: 0,
            message,
        };
        let (folder, file) = src.rel.split_once('/').unwrap_or(("", src.rel.as_str()));
        let name = file.strip_suffix(".rhai").unwrap_or(file).to_string();
        let kind = match folder {
            "notifications" => ScriptKind::Notification,
            _ => ScriptKind::Carrier,
        };
        if kind == ScriptKind::Notification && !EVENTS.contains(&name.as_str()) {
            return Err(compile_err(format!(
                "{name:?} is not a notification event; name the file after one of: {}",
                EVENTS.join(", ")
            )));
        }
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            return Err(compile_err(format!(
                "{name:?}: a script's file name may use only a-z, 0-9, '_' and '-'"
            )));
        }
        let blank = is_blank(&src.text);
        let ast = if blank {
            None
        } else {
            let mut ast = self.engine.compile(&src.text).map_err(|e| {
                let pos = e.position();
                ScriptError::Compile {
                    path: src.path.clone(),
                    line: pos.line().unwrap_or(0),
                    col: pos.position().unwrap_or(0),
                    message: e.err_type().to_string(),
                }
            })?;
            ast.set_source(src.path.as_str());
            let required: &[(&str, usize, &str)] = match kind {
                ScriptKind::Notification => &[("render", 1, "fn render(ctx)")],
                ScriptKind::Carrier => &[
                    ("carrier", 0, "fn carrier()"),
                    ("rates", 1, "fn rates(request)"),
                    ("tracking_url", 1, "fn tracking_url(number)"),
                    ("label", 2, "fn label(request, service)"),
                ],
            };
            for (fname, arity, sig) in required {
                let found = ast
                    .iter_functions()
                    .any(|f| f.name == *fname && f.params.len() == *arity);
                if !found {
                    return Err(compile_err(format!(
                        "must define `{sig}` (leave the file empty to turn it off)"
                    )));
                }
            }
            Some(ast)
        };
        let compiled = Compiled {
            path: src.path.clone(),
            ast,
        };
        match kind {
            ScriptKind::Notification => {
                self.notifications.insert(name.clone(), compiled);
            }
            ScriptKind::Carrier => {
                if let Some(ast) = &compiled.ast {
                    let out = self.call(&compiled.path, ast, "carrier", ())?;
                    let info = convert::carrier_info(&name, out).map_err(|message| {
                        ScriptError::BadReturn {
                            path: compiled.path.clone(),
                            function: "carrier".into(),
                            message,
                        }
                    })?;
                    self.carriers
                        .insert(name.clone(), CarrierScript { compiled, info });
                }
            }
        }
        self.infos.push(ScriptInfo {
            name,
            path: src.path,
            kind,
            source: src.source,
            enabled: !blank,
        });
        Ok(())
    }

    /// Calls one script function under the limits and the wall-clock deadline. Top-level
    /// statements are not re-run (`eval_ast(false)`).
    fn call(
        &self,
        path: &str,
        ast: &AST,
        function: &str,
        args: impl rhai::FuncArgs,
    ) -> Result<Dynamic, ScriptError> {
        let _deadline = sandbox::DeadlineGuard::start(self.limits.deadline);
        let mut scope = rhai::Scope::new();
        let options = rhai::CallFnOptions::new()
            .eval_ast(false)
            .rewind_scope(true);
        self.engine
            .call_fn_with_options::<Dynamic>(options, &mut scope, ast, function, args)
            .map_err(|e| ScriptError::Runtime {
                path: path.to_string(),
                function: function.to_string(),
                message: self.explain(&e),
            })
    }

    /// A runtime error in words a merchant can act on; limit errors (which carry no position
    /// in Rhai) say which limit.
    fn explain(&self, err: &EvalAltResult) -> String {
        let mut inner = err;
        while let EvalAltResult::ErrorInFunctionCall(_, _, e, _) = inner {
            inner = e;
        }
        let l = &self.limits;
        match inner {
            // Only the deadline in `on_progress` terminates scripts.
            EvalAltResult::ErrorTerminated(..) => {
                format!(
                    "stopped after {} ms: the script took longer than its time limit",
                    l.deadline.as_millis()
                )
            }
            EvalAltResult::ErrorTooManyOperations(_) => format!(
                "stopped: the script ran more than {} operations (an endless loop?)",
                l.max_operations
            ),
            EvalAltResult::ErrorStackOverflow(_) => format!(
                "stopped: functions called each other more than {} levels deep",
                l.max_call_levels
            ),
            EvalAltResult::ErrorDataTooLarge(what, _) => format!(
                "stopped: {what} is larger than allowed (strings up to {} bytes, arrays up to {} items, maps up to {} properties)",
                l.max_string_size, l.max_array_size, l.max_map_size
            ),
            EvalAltResult::ErrorTooManyVariables(_) => format!(
                "stopped: the script defined more than {} variables",
                l.max_variables
            ),
            _ => err.to_string(),
        }
    }
}

/// Whether a script file holds nothing but whitespace and `//` comments.
fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with("//")
    })
}

/// The embedded defaults, overridden file by file by the folder's `.rhai` files.
fn collect_sources(dir: Option<&Path>) -> Result<Vec<SourceText>, Vec<ScriptError>> {
    let mut by_rel: BTreeMap<String, SourceText> = DEFAULT_SCRIPTS
        .iter()
        .map(|(rel, text)| {
            (
                rel.to_string(),
                SourceText {
                    rel: rel.to_string(),
                    path: format!("scripts/{rel}"),
                    text: text.to_string(),
                    source: ScriptSource::Embedded,
                },
            )
        })
        .collect();
    let mut errors = Vec::new();
    match dir {
        Some(dir) if dir.is_dir() => {
            for sub in ["notifications", "carriers"] {
                let folder = dir.join(sub);
                if !folder.is_dir() {
                    continue;
                }
                let entries = match std::fs::read_dir(&folder) {
                    Ok(e) => e,
                    Err(e) => {
                        errors.push(io_error(&folder, &e));
                        continue;
                    }
                };
                let mut files: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "rhai") && p.is_file())
                    .collect();
                files.sort();
                for file in files {
                    let Some(fname) = file.file_name().and_then(|f| f.to_str()) else {
                        errors.push(ScriptError::Compile {
                            path: file.display().to_string(),
                            line: 0,
                            col: 0,
                            message: "the file name is not valid UTF-8".into(),
                        });
                        continue;
                    };
                    let rel = format!("{sub}/{fname}");
                    match std::fs::read_to_string(&file) {
                        Ok(text) => {
                            by_rel.insert(
                                rel.clone(),
                                SourceText {
                                    rel,
                                    path: file.display().to_string(),
                                    text,
                                    source: ScriptSource::Folder,
                                },
                            );
                        }
                        Err(e) => errors.push(io_error(&file, &e)),
                    }
                }
            }
        }
        Some(dir) => {
            log::warn!(
                "scripts folder {} does not exist: using the built-in scripts",
                dir.display()
            );
        }
        None => {}
    }
    if errors.is_empty() {
        // Notifications first, then carriers; each group by name.
        let mut all: Vec<SourceText> = by_rel.into_values().collect();
        all.sort_by_key(|s| (!s.rel.starts_with("notifications/"), s.rel.clone()));
        Ok(all)
    } else {
        Err(errors)
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> ScriptError {
    ScriptError::Compile {
        path: path.display().to_string(),
        line: 0,
        col: 0,
        message: format!("cannot read: {e}"),
    }
}

/// What [`export_defaults`] did with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub path: PathBuf,
    /// False when the file already existed and was kept as it was.
    pub written: bool,
}

/// Writes the embedded default scripts (and `README.md`) into `dir` to start customising them.
/// Existing files are never overwritten: a merchant's edits are kept.
pub fn export_defaults(dir: &Path) -> std::io::Result<Vec<Exported>> {
    let mut out = Vec::new();
    let files = DEFAULT_SCRIPTS
        .iter()
        .copied()
        .chain(std::iter::once(("README.md", SCRIPTS_README)));
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let written = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                std::io::Write::write_all(&mut f, text.as_bytes())?;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(e),
        };
        out.push(Exported { path, written });
    }
    Ok(out)
}

/// The live [`ScriptHost`], swappable at run time (the settings page's Reload button).
/// Readers take a cheap `Arc` clone; a reload compiles outside the lock and swaps only when
/// every script compiles, so a broken edit never replaces working scripts.
#[derive(Debug)]
pub struct ScriptRegistry {
    current: RwLock<Arc<ScriptHost>>,
}

impl ScriptRegistry {
    /// Wraps an already loaded host.
    pub fn new(host: ScriptHost) -> Self {
        ScriptRegistry {
            current: RwLock::new(Arc::new(host)),
        }
    }

    /// Loads the scripts (see [`ScriptHost::load`]).
    pub fn load(dir: Option<&Path>) -> Result<Self, Vec<ScriptError>> {
        ScriptHost::load(dir).map(Self::new)
    }

    /// The scripts in force now. Hold the `Arc` for one request; a reload does not disturb it.
    pub fn current(&self) -> Arc<ScriptHost> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            // A panic while holding the lock cannot leave a half-written Arc: keep serving.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Recompiles from `dir`; swaps in the new scripts only if all of them load, otherwise
    /// keeps the old ones and returns every error.
    pub fn reload(&self, dir: Option<&Path>) -> Result<(), Vec<ScriptError>> {
        let host = ScriptHost::load(dir)?;
        self.replace(host);
        Ok(())
    }

    /// Swaps in an already loaded host.
    pub fn replace(&self, host: ScriptHost) {
        let host = Arc::new(host);
        match self.current.write() {
            Ok(mut g) => *g = host,
            Err(poisoned) => *poisoned.into_inner() = host,
        }
    }
}

impl crate::ports::Renderer for ScriptRegistry {
    fn render(
        &self,
        event: &str,
        ctx: &serde_json::Value,
    ) -> Result<Option<Rendered>, crate::ports::RenderError> {
        self.current()
            .render(event, ctx)
            .map_err(|e| crate::ports::RenderError(Box::new(e)))
    }
}

#[cfg(test)]
mod tests;
