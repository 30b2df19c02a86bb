//! Test harness shared by the integration tests: start the real `orderdeck` binary on port 0 with
//! a temporary data directory, read the address and the one-time setup link from its output,
//! create API tokens, and build HTTP clients. Helpers for the merchant's pages are in [`pages`].
//!
//! Each test binary uses a subset of these helpers, hence the module-wide `dead_code` allowance.
#![allow(dead_code)]

pub mod openapi;
pub mod pages;
pub mod receiver;

use serde_json::{json, Value};
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The `orderdeck` executable under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_orderdeck")
}

/// An HTTP client builder (installs the process's TLS crypto provider first: reqwest is built
/// without a default one, and plain-HTTP clients still need it to be set).
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// How soon every server on a PostgreSQL database has a changed setting in force (SPEC
/// section 6: "a setting saved on one instance is in force on all within 2 s").
pub const SETTINGS_HEARD_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Changes a store setting with the command line (through the control socket while a server
/// runs on `data_dir`).
pub fn set_setting(data_dir: &Path, key: &str, value: &str) {
    set_setting_with(data_dir, key, value, &[]);
}

/// [`set_setting`] with extra arguments (`--database-url URL`).
pub fn set_setting_with(data_dir: &Path, key: &str, value: &str, extra: &[OsString]) {
    let out = Command::new(bin())
        .args(["settings", "set", key, value, "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run orderdeck settings set");
    assert!(
        out.status.success(),
        "settings set failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates an API token with the command-line tool and returns it. Works whether or not a server
/// runs on `data_dir` (a running server is reached through its control socket).
pub fn create_token(data_dir: &Path, name: &str) -> String {
    create_token_with(data_dir, name, &[])
}

/// [`create_token`] with extra arguments (`--database-url URL`).
pub fn create_token_with(data_dir: &Path, name: &str, extra: &[OsString]) -> String {
    let out = Command::new(bin())
        .args(["token", "create", "--name", name, "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run orderdeck token create");
    assert!(
        out.status.success(),
        "token create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .last()
        .expect("token printed")
        .to_string()
}

/// A running server; killed when dropped.
pub struct App {
    /// `http://127.0.0.1:PORT`, as printed on the "listening" line.
    pub base: String,
    pub data_dir: PathBuf,
    /// The one-time setup link, printed while no account exists.
    pub setup_link: Option<String>,
    /// A plain HTTP client (no cookies, follows redirects).
    pub client: reqwest::Client,
    pub child: Child,
    token: Option<String>,
    args: Vec<OsString>,
    _tmp: Option<tempfile::TempDir>,
    /// The PostgreSQL server this app's database lives on, when the harness started one.
    _pg: Option<orderdeck::store::postgres::testdb::TestDb>,
}

/// How to start an [`App`]; see [`App::builder`].
#[derive(Default)]
pub struct AppBuilder {
    data_dir: Option<PathBuf>,
    token: Option<String>,
    args: Vec<OsString>,
    /// On the embedded store even when the suite runs on PostgreSQL (a test of the data
    /// directory itself).
    embedded: bool,
}

/// A fresh server with its own temporary data directory and no account or token.
pub fn spawn_app() -> App {
    App::builder().spawn()
}

/// [`spawn_app`] with a "storefront" API token, created before the server starts
/// (see [`App::token`]).
pub fn spawn_app_with_token() -> App {
    App::builder().token("storefront").spawn()
}

impl AppBuilder {
    /// Serve this data directory (kept after the server stops) instead of a temporary one.
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_path_buf());
        self
    }

    /// Create an API token named `name` with the command-line tool before the server starts.
    pub fn token(mut self, name: &str) -> Self {
        self.token = Some(name.to_string());
        self
    }

    /// Use the embedded store whatever `ORDERDECK_TEST_BACKEND` says.
    pub fn embedded(mut self) -> Self {
        self.embedded = true;
        self
    }

    /// Keep everything in this PostgreSQL database (`--database-url`), for the server and the
    /// token created before it starts.
    pub fn database(mut self, url: &str) -> Self {
        self.args.push("--database-url".into());
        self.args.push(url.into());
        self
    }

    /// An extra command-line argument for `orderdeck serve` (e.g. `--scripts-dir`, then DIR).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Starts the server and waits until it has printed its address (and setup link, if any).
    pub fn spawn(mut self) -> App {
        // ORDERDECK_TEST_BACKEND=postgres runs a suite on PostgreSQL: each server gets a
        // throwaway PostgreSQL server of its own.
        let mut pg = None;
        let on_pg = std::env::var("ORDERDECK_TEST_BACKEND").is_ok_and(|b| b == "postgres");
        if on_pg && !self.embedded && !self.args.iter().any(|a| a == "--database-url") {
            let db = orderdeck::store::postgres::testdb::TestDb::start();
            self = self.database(&db.new_database());
            pg = Some(db);
        }
        let (tmp, data_dir) = match self.data_dir {
            Some(dir) => (None, dir),
            None => {
                let tmp = tempfile::tempdir().expect("temp dir");
                let dir = tmp.path().join("data");
                (Some(tmp), dir)
            }
        };
        let db_args: Vec<OsString> = self
            .args
            .iter()
            .position(|a| a == "--database-url")
            .map(|i| self.args[i..i + 2].to_vec())
            .unwrap_or_default();
        let token = self
            .token
            .map(|name| create_token_with(&data_dir, &name, &db_args));
        let started = start_server(&data_dir, &self.args);
        App {
            base: started.base,
            data_dir,
            setup_link: started.setup_link,
            client: client_builder().build().expect("client"),
            child: started.child,
            token,
            args: self.args,
            _tmp: tmp,
            _pg: pg,
        }
    }
}

/// What a freshly started server printed.
struct Started {
    child: Child,
    base: String,
    setup_link: Option<String>,
}

/// Runs `orderdeck serve` on port 0 and reads its output up to the "data directory" line, which
/// comes after the "listening" line and the setup link.
fn start_server(data_dir: &Path, args: &[OsString]) -> Started {
    let mut child = Command::new(bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env(
            "RUST_LOG",
            std::env::var("TEST_LOG").unwrap_or("warn".into()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start orderdeck");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep reading so the server never writes into a closed pipe.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut base = None;
    let mut setup_link = None;
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("orderdeck did not print its address in time");
        if let Some(a) = line.strip_prefix("orderdeck listening on ") {
            base.get_or_insert_with(|| a.trim().to_string());
        }
        if let Some(i) = line
            .find("http://")
            .filter(|_| line.contains("/setup?token="))
        {
            setup_link = Some(line[i..].trim().to_string());
        }
        if line.starts_with("data directory") || line.starts_with("database: ") {
            break;
        }
    }
    Started {
        child,
        base: base.expect("orderdeck printed no address"),
        setup_link,
    }
}

impl App {
    pub fn builder() -> AppBuilder {
        AppBuilder::default()
    }

    /// The API token the server was started with ([`spawn_app_with_token`] or
    /// [`AppBuilder::token`]).
    pub fn token(&self) -> &str {
        self.token
            .as_deref()
            .expect("the app was started without an API token")
    }

    /// Starts the server again on the same data directory with the same arguments; the old
    /// process must have stopped (after [`App::kill`] or a `wait()` on [`App::child`]).
    pub fn restart(&mut self) {
        assert!(
            self.child.try_wait().expect("server status").is_some(),
            "restart: the old server still runs"
        );
        let started = start_server(&self.data_dir, &self.args);
        self.child = started.child;
        self.base = started.base;
        self.setup_link = started.setup_link;
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Changes a setting with the command-line tool, on this server's store, and returns once
    /// the server is bound to have it in force. On the embedded store that is at once (the tool
    /// goes through the running server). On PostgreSQL the tool writes to the database and each
    /// server hears of the change on its own, within [`SETTINGS_HEARD_WITHIN`] (SPEC section 6):
    /// this waits that out, so a test does not race the notice.
    pub fn set_setting(&self, key: &str, value: &str) {
        self.set_setting_unheard(key, value);
        if !self.database_args().is_empty() {
            std::thread::sleep(SETTINGS_HEARD_WITHIN);
        }
    }

    /// [`App::set_setting`] without waiting for the servers to hear of the change (for tests
    /// that measure how soon they do).
    pub fn set_setting_unheard(&self, key: &str, value: &str) {
        set_setting_with(&self.data_dir, key, value, &self.database_args());
    }

    /// Creates an API token with the command-line tool, on this server's store.
    pub fn create_token(&self, name: &str) -> String {
        create_token_with(&self.data_dir, name, &self.database_args())
    }

    /// `--database-url URL` when this server keeps its data in PostgreSQL.
    pub fn database_args(&self) -> Vec<OsString> {
        self.args
            .iter()
            .position(|a| a == "--database-url")
            .map(|i| self.args[i..i + 2].to_vec())
            .unwrap_or_default()
    }

    /// The URL of an API path (`/orders` → `BASE/api/v1/orders`).
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.base, path)
    }

    /// GET an API path with the token; returns the status and the JSON body (null if none).
    /// The answer is checked against the OpenAPI document ([`openapi::check`]).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(self.token())
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let body = r.json().await.unwrap_or(Value::Null);
        let doc = openapi::document(&self.client, &self.base).await;
        openapi::check(doc, "GET", path, None, status, &body);
        (status, body)
    }

    /// Sends a JSON body to an API path with the token; returns the status and the JSON body.
    /// The answer (and, when accepted, the request) is checked against the OpenAPI document.
    pub async fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = self
            .client
            .request(m, self.url(path))
            .bearer_auth(self.token())
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let answer = r.json().await.unwrap_or(Value::Null);
        let doc = openapi::document(&self.client, &self.base).await;
        openapi::check(doc, method, path, Some(&body), status, &answer);
        (status, answer)
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, body).await
    }

    /// Places an order (expects 201); returns its JSON.
    pub async fn place(&self, body: Value) -> Value {
        let (s, v) = self.post("/orders", body).await;
        assert_eq!(s, 201, "{v}");
        v
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A valid order body: 2 × T-Shirt at 20.00 and 1 × Mug at 10.00, shipping 5.00, tax 2.50 → 57.50.
pub fn order_body(name: &str, email: &str) -> Value {
    json!({
        "customer": {"name": name, "email": email, "phone": "+1 555 0100"},
        "shipping_address": {"name": name, "line1": "1 Main St", "line2": "", "city": "Portland",
                             "region": "OR", "postal_code": "97205", "country": "US"},
        "items": [
            {"sku": "TEE-M", "name": "Organic T-Shirt", "variant": "M", "unit_price": "20.00", "quantity": 2, "weight_grams": 180},
            {"sku": "MUG-1", "name": "Enamel Mug", "unit_price": "10.00", "quantity": 1}
        ],
        "shipping": {"method": "Standard", "price": "5.00"},
        "tax": "2.50",
        "payment": {"method": "card"}
    })
}

/// A real SMTP server (Debian's `python3-aiosmtpd`) delivering into a maildir; stopped when
/// dropped.
pub struct Smtp {
    child: Child,
    pub maildir: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts an SMTP server on `port` and waits until it answers.
pub fn start_smtp(port: u16) -> Smtp {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "this test needs Debian's python3-aiosmtpd (apt-get install -y python3-aiosmtpd)"
    );
    let maildir = tempfile::tempdir().unwrap();
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.path().join(sub)).unwrap();
    }
    let child = Command::new("/usr/bin/python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "aiosmtpd did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Smtp { child, maildir }
}

impl Smtp {
    /// Every message received so far, as raw text.
    pub fn received(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.maildir.path().join("new")).unwrap() {
            out.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
        }
        out
    }
}

/// A free local port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
