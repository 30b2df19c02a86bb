//! The delivery transports against real servers on loopback: SMTP through Python's aiosmtpd
//! (Debian package `python3-aiosmtpd`), SMS through a local actix-web gateway.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use orderdeck::scripting::{RenderedEmail as Email, ScriptHost};
use orderdeck::transports::{send_email, send_sms, SmsClient, SmsConfig, SmtpConfig, SmtpTls};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PYTHON: &str = "/usr/bin/python3";

/// An aiosmtpd server storing messages in a Maildir; killed on drop.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_smtp() -> SmtpServer {
    let have = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        have,
        "the SMTP test needs a real SMTP server: install Debian's python3-aiosmtpd \
         (apt-get install -y python3-aiosmtpd) so that `{PYTHON} -m aiosmtpd` works"
    );
    let maildir = tempfile::tempdir().unwrap();
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.path().join(sub)).unwrap();
    }
    let port = free_port();
    let child = Command::new(PYTHON)
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start aiosmtpd");
    let server = SmtpServer {
        child,
        port,
        maildir,
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "aiosmtpd did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn wait_for_message(dir: &Path) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(entry) = std::fs::read_dir(dir.join("new"))
            .unwrap()
            .filter_map(Result::ok)
            .next()
        {
            return entry.path();
        }
        assert!(
            Instant::now() < deadline,
            "no message arrived in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Parses the stored message with Python's email package (decodes headers and bodies).
fn parse_message(path: &Path) -> serde_json::Value {
    let script = r#"
import email, json, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
plain = m.get_body(('plain',))
html = m.get_body(('html',))
print(json.dumps({
    'subject': str(m['subject']), 'from': str(m['from']), 'to': str(m['to']),
    'content_type': m.get_content_type(),
    'text': plain.get_content() if plain else None,
    'html': html.get_content() if html else None,
}))
"#;
    let out = Command::new(PYTHON)
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: String::new(),
        password: String::new(),
        from: "Acme Goods <shop@acme.example>".into(),
    }
}

fn rendered_email() -> Email {
    let host = ScriptHost::load(None).unwrap();
    let ctx = serde_json::json!({
        "event": "shipment_updated",
        "order": {"number": 1042, "test": false, "currency": "EUR",
                  "customer": {"name": "Chloé Dubois", "email": "chloe@example.com", "phone": ""}},
        "store": {"name": "Acme Goods", "email": "shop@acme.example", "currency": "EUR", "address": "1 Rue X\nLyon"},
        "shipment": {"status": "out_for_delivery", "carrier": "National Post", "tracking_number": "CP123456785FR",
                     "tracking_url": "https://www.nationalpost.example/track?number=CP123456785FR", "expected_delivery": null},
        "recipient": "customer"
    });
    host.render("shipment_updated", &ctx)
        .unwrap()
        .unwrap()
        .email
        .unwrap()
}

#[tokio::test]
async fn a_rendered_email_arrives_at_a_real_smtp_server() {
    let server = start_smtp();
    let email = rendered_email();
    assert_eq!(email.subject, "Your order #1042 is out for delivery");
    send_email(
        &smtp_config(server.port),
        "Chloé Dubois <chloe@example.com>",
        &email,
    )
    .await
    .unwrap();
    let stored = wait_for_message(server.maildir.path());
    let m = parse_message(&stored);
    assert_eq!(m["subject"], email.subject.as_str());
    assert_eq!(m["content_type"], "multipart/alternative");
    assert!(m["from"].as_str().unwrap().contains("shop@acme.example"));
    assert!(m["to"].as_str().unwrap().contains("chloe@example.com"));
    let text = m["text"].as_str().unwrap();
    assert!(text.contains("Hi Chloé,"), "{text}");
    assert!(text.contains("CP123456785FR"), "{text}");
    let html = m["html"].as_str().unwrap();
    assert!(html.contains("Track your parcel"), "{html}");
}

#[tokio::test]
async fn a_text_only_email_is_sent_as_plain_text() {
    let server = start_smtp();
    let email = Email {
        subject: "Plain".into(),
        text: "Just text.\nTwo lines.".into(),
        html: None,
    };
    send_email(&smtp_config(server.port), "a@example.com", &email)
        .await
        .unwrap();
    let m = parse_message(&wait_for_message(server.maildir.path()));
    assert_eq!(m["content_type"], "text/plain");
    assert_eq!(
        m["text"].as_str().unwrap().trim_end(),
        "Just text.\nTwo lines."
    );
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_a_clear_error() {
    let email = Email {
        subject: "x".into(),
        text: "x".into(),
        html: None,
    };
    let err = send_email(&smtp_config(free_port()), "a@example.com", &email)
        .await
        .unwrap_err();
    assert!(
        err.contains("SMTP delivery to a@example.com failed"),
        "{err}"
    );
}

/// What the fake gateway saw: (auth header, api key header, JSON body).
type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>, serde_json::Value)>>>;

async fn gateway(
    req: HttpRequest,
    body: web::Json<serde_json::Value>,
    seen: web::Data<Seen>,
) -> HttpResponse {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    seen.lock().unwrap().push((
        header("authorization"),
        header("x-api-key"),
        body.into_inner(),
    ));
    HttpResponse::Ok().json(serde_json::json!({"status": "queued"}))
}

async fn refusing_gateway() -> HttpResponse {
    HttpResponse::PaymentRequired().body("quota exceeded for this month")
}

#[actix_web::test]
async fn an_sms_is_posted_to_the_gateway_as_json() {
    let seen: Seen = Arc::default();
    let data = web::Data::new(seen.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/send", web::post().to(gateway))
            .route("/broke", web::post().to(refusing_gateway))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);

    let config = SmsConfig {
        url: format!("http://{addr}/send"),
        auth_header: Some("Bearer s3cret".into()),
    };
    send_sms(&config, "+15552013344", "Acme: order #1001 has shipped.")
        .await
        .unwrap();
    let client = SmsClient::new(&SmsConfig {
        url: format!("http://{addr}/send"),
        auth_header: Some("X-Api-Key: k-123".into()),
    })
    .unwrap();
    client.send("+447700900123", "Second").await.unwrap();
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0.as_deref(), Some("Bearer s3cret"));
        assert_eq!(
            seen[0].2,
            serde_json::json!({"to": "+15552013344", "text": "Acme: order #1001 has shipped."})
        );
        assert_eq!(seen[1].0, None);
        assert_eq!(seen[1].1.as_deref(), Some("k-123"));
        assert_eq!(seen[1].2["text"], "Second");
    }

    let err = send_sms(
        &SmsConfig {
            url: format!("http://{addr}/broke"),
            auth_header: None,
        },
        "+1",
        "x",
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("402") && err.contains("quota exceeded"),
        "{err}"
    );

    let err = send_sms(
        &SmsConfig {
            url: format!("http://127.0.0.1:{}/send", free_port()),
            auth_header: None,
        },
        "+1",
        "x",
    )
    .await
    .unwrap_err();
    assert!(err.contains("unreachable"), "{err}");
    handle.stop(true).await;
}
