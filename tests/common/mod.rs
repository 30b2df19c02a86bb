//! Test helpers: start the real `orderdeck` binary on a random port with a temporary data dir.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server.
pub struct App {
    pub base: String,
    pub token: String,
    pub dir: PathBuf,
    pub child: Child,
    pub client: reqwest::Client,
    pub _tmp: Option<tempfile::TempDir>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_orderdeck")
}

/// Creates an API token with the command-line tool (works whether or not a server runs).
pub fn create_token(dir: &Path, name: &str) -> String {
    let out = Command::new(bin())
        .args(["token", "create", "--name", name, "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run orderdeck token create");
    assert!(
        out.status.success(),
        "token create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .last()
        .expect("token printed")
        .to_string()
}

/// Starts the binary on `dir`, waiting for its "listening" line.
pub fn start(dir: &Path) -> (Child, String) {
    let mut child = Command::new(bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start orderdeck");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent {
                if let Some(addr) = line.strip_prefix("orderdeck listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                    sent = true;
                }
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server did not print its address");
    (child, base)
}

/// A fresh server with its own temporary data dir and an API token.
pub fn spawn_app() -> App {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let token = create_token(&dir, "storefront");
    let client = http().build().expect("client");
    let (child, base) = start(&dir);
    App {
        base,
        token,
        dir,
        child,
        client,
        _tmp: Some(tmp),
    }
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = self
            .client
            .request(m, self.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, body).await
    }

    /// Places the standard sample order; returns its JSON.
    pub async fn place(&self, body: Value) -> Value {
        let (s, v) = self.post("/orders", body).await;
        assert_eq!(s, 201, "{v}");
        v
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// Waits until `f` is true or the deadline passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// An HTTP client builder (installs the process's TLS crypto provider first: reqwest is built
/// without a default one, and plain-HTTP clients still need it to be set).
pub fn http() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
