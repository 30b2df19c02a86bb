//! Test helpers: start the real `orderdeck` binary on port 0 with a temporary data directory and
//! read the address and the one-time setup link from its output.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running server; killed when dropped.
pub struct App {
    pub base: String,
    pub setup_link: Option<String>,
    pub data_dir: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary and waits for its "listening" and "setup" lines.
pub fn spawn_app() -> App {
    spawn_app_with(&[])
}

/// [`spawn_app`] with extra command-line arguments (e.g. `--scripts-dir DIR`).
pub fn spawn_app_with(extra: &[&std::ffi::OsStr]) -> App {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_orderdeck"))
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .args(extra)
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
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut base = None;
    let mut setup_link = None;
    while base.is_none() || setup_link.is_none() {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                if let Some(a) = line.strip_prefix("orderdeck listening on ") {
                    base = Some(a.trim().to_string());
                }
                if let Some(i) = line
                    .find("http://")
                    .filter(|_| line.contains("/setup?token="))
                {
                    setup_link = Some(line[i..].trim().to_string());
                }
                if line.starts_with("data directory") && base.is_some() && setup_link.is_none() {
                    // The setup line comes before this one; none means an account exists.
                    break;
                }
            }
            Err(_) => panic!("orderdeck did not print its address in time"),
        }
    }
    App {
        base: base.expect("address"),
        setup_link,
        data_dir,
        child,
        _dir: dir,
    }
}

/// An HTTP client that keeps cookies and does not follow redirects.
pub fn client() -> reqwest::Client {
    http()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of `<input ... name="NAME" value="VALUE">` in a page (first match).
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let i = html.find(&needle)? + needle.len();
    let end = html[i..].find('"')?;
    Some(html[i..i + end].to_string())
}

/// Creates a token through the running server's control socket, like an operator would.
pub fn create_token(app: &App, name: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_orderdeck"))
        .args(["token", "create", "--name", name, "--data-dir"])
        .arg(&app.data_dir)
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
        .expect("token")
        .to_string()
}

/// A real (not test) order as a storefront would send it.
pub fn real_order_json(name: &str) -> serde_json::Value {
    serde_json::json!({
        "customer": {"name": name, "email": "real.buyer@example.com", "phone": "+1 555 010 0000"},
        "shipping_address": {"name": name, "line1": "1 Real Street", "city": "Portland", "region": "OR", "postal_code": "97205", "country": "US"},
        "items": [{"sku": "REAL-1", "name": "Real Thing", "unit_price": "12.00", "quantity": 2}],
        "shipping": {"method": "Standard", "price": "5.00"},
        "payment": {"method": "card", "paid": true}
    })
}

/// An HTTP client builder (installs the process's TLS crypto provider first: reqwest is built
/// without a default one, and plain-HTTP clients still need it to be set).
pub fn http() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
