//! A local control socket in the data directory, so command-line tools (`orderdeck token create`)
//! work while the server holds the store open. Access is limited by file permissions (0600).

use crate::service::Service;
use crate::store::sled::backup::{self, BackupInfo};
use crate::store::sled::check::{self, CheckReport, Progress};
use crate::store::sled::SledStore;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A request over the control socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum AdminRequest {
    TokenCreate {
        name: String,
    },
    /// Run the consistency check on the running store.
    Check,
    /// Change a store setting (e.g. `smtp.host`).
    SettingSet {
        key: String,
        value: String,
    },
    /// Write a consistent backup to `path` (absolute; written by the server process).
    Backup {
        path: PathBuf,
    },
}

/// The answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct AdminResponse {
    pub ok: bool,
    pub token: Option<String>,
    pub error: Option<String>,
    #[serde(default)]
    pub check: Option<CheckReport>,
    #[serde(default)]
    pub backup: Option<BackupInfo>,
}

impl AdminResponse {
    fn failed(error: String) -> Self {
        AdminResponse {
            ok: false,
            token: None,
            error: Some(error),
            check: None,
            backup: None,
        }
    }
}

/// The running control socket; removed when dropped.
pub struct AdminSocket {
    path: PathBuf,
}

/// Where the socket lives.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.sock")
}

impl AdminSocket {
    /// Listens on `<data_dir>/admin.sock` in a background thread.
    pub fn start(
        data_dir: &Path,
        service: Service,
        store: Arc<SledStore>,
    ) -> std::io::Result<Self> {
        let path = socket_path(data_dir);
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        std::thread::Builder::new()
            .name("orderdeck-admin".into())
            .spawn(move || {
                // The service is async; this thread runs its calls on a runtime of its own.
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        log::error!("control socket: cannot start its runtime: {e}");
                        return;
                    }
                };
                for stream in listener.incoming().flatten() {
                    if let Err(e) = handle(stream, &rt, &service, &store) {
                        log::warn!("control socket: {e}");
                    }
                }
            })?;
        Ok(AdminSocket { path })
    }
}

impl Drop for AdminSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn handle(
    stream: UnixStream,
    rt: &tokio::runtime::Runtime,
    service: &Service,
    store: &SledStore,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let resp = match serde_json::from_str::<AdminRequest>(&line) {
        Ok(AdminRequest::TokenCreate { name }) => match rt.block_on(service.create_token(&name)) {
            Ok(t) => AdminResponse {
                ok: true,
                token: Some(t.secret),
                error: None,
                check: None,
                backup: None,
            },
            Err(e) => AdminResponse::failed(e.to_string()),
        },
        Ok(AdminRequest::SettingSet { key, value }) => {
            match rt.block_on(service.set_setting(&key, &value)) {
                Ok(()) => AdminResponse {
                    ok: true,
                    ..AdminResponse::failed(String::new())
                },
                Err(e) => AdminResponse::failed(e.to_string()),
            }
        }
        Ok(AdminRequest::Check) => match check::check_with_progress(store, &mut |p| {
            // Progress lines go out while the check runs; a client that left is no reason to
            // stop checking.
            let line = serde_json::json!({ "progress": p });
            let _ = writeln!(&stream, "{line}");
        }) {
            Ok(report) => AdminResponse {
                ok: true,
                token: None,
                error: None,
                check: Some(report),
                backup: None,
            },
            Err(e) => AdminResponse::failed(e.to_string()),
        },
        Ok(AdminRequest::Backup { path }) => match backup::backup(store, &path) {
            Ok(info) => AdminResponse {
                ok: true,
                token: None,
                error: None,
                check: None,
                backup: Some(info),
            },
            Err(e) => AdminResponse::failed(e.to_string()),
        },
        Err(e) => AdminResponse::failed(format!("bad request: {e}")),
    };
    let mut w = stream;
    writeln!(w, "{}", serde_json::to_string(&resp).unwrap_or_default())?;
    Ok(())
}

/// Sends a request to a running server's control socket.
pub fn call(data_dir: &Path, req: &AdminRequest) -> std::io::Result<AdminResponse> {
    call_with_progress(data_dir, req, &mut |_| {})
}

/// Sends a request to a running server's control socket, passing on its progress lines.
pub fn call_with_progress(
    data_dir: &Path,
    req: &AdminRequest,
    progress: &mut dyn FnMut(&Progress),
) -> std::io::Result<AdminResponse> {
    let mut stream = UnixStream::connect(socket_path(data_dir))?;
    writeln!(
        stream,
        "{}",
        serde_json::to_string(req).map_err(std::io::Error::other)?
    )?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("the server closed the connection"));
        }
        let v: serde_json::Value = serde_json::from_str(&line).map_err(std::io::Error::other)?;
        match v.get("progress") {
            Some(p) => {
                if let Ok(p) = serde_json::from_value::<Progress>(p.clone()) {
                    progress(&p);
                }
            }
            None => return serde_json::from_value(v).map_err(std::io::Error::other),
        }
    }
}
