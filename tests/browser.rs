//! The merchant's whole day in headless Chromium through WebDriver: setup link → owner account
//! → sign in → test orders → search and filter → an order: notes, payment, refund, fulfilment,
//! delivery, return, every badge → Place Test Order disappears once a real order arrives →
//! a form without its CSRF token is refused → anonymous visitors go to sign-in. Screenshots land
//! in `<target>/tmp/screenshots/`; `ORDERDECK_SCREENSHOTS=docs cargo test --test browser` also
//! copies them into `docs/`, the README's pictures.
//!
//! Needs `chromium` and `chromedriver` (`apt-get install -y chromium chromium-driver`); without
//! them this test FAILS on purpose, so CI cannot pass without running it.

mod common;

use common::pages::real_order_json;
use common::receiver::{Receiver, Reply};
use common::{client_builder, spawn_app, App};
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    assert!(
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
        "the browser test needs {CHROMIUM} and {CHROMEDRIVER}: install them with \
         `apt-get install -y chromium chromium-driver`"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let http = client_builder().build().expect("client");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{url}/status")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver { child, url }
}

async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--window-size=1280,900",
                     format!("--user-data-dir={}", profile.display())]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("connect to chromedriver")
}

async fn css(c: &Client, sel: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.find(Locator::Css(sel)).await {
            Ok(e) => return e,
            Err(e) => {
                if Instant::now() > deadline {
                    let url = c
                        .current_url()
                        .await
                        .map(|u| u.to_string())
                        .unwrap_or_default();
                    let src = c.source().await.unwrap_or_default();
                    panic!("no element {sel} on {url}: {e}\n{src}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Clicks something that loads a new page and waits until the new page is there.
async fn click(c: &Client, sel: &str) {
    let e = css(c, sel).await;
    c.execute("window.__odOld = true;", vec![]).await.unwrap();
    e.click()
        .await
        .unwrap_or_else(|e| panic!("click {sel}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let fresh = c
            .execute(
                "return window.__odOld === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await
            .map(|v| v == serde_json::Value::Bool(true))
            .unwrap_or(false);
        if fresh {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "clicking {sel} did not load a page"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks something that changes the current page only (e.g. opens a ⋮ menu).
async fn tap(c: &Client, sel: &str) {
    css(c, sel)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {sel}: {e}"));
}

async fn fill(c: &Client, sel: &str, text: &str) {
    // Right after a navigation the field may not take input yet ("invalid element state").
    for _ in 0..20 {
        let e = css(c, sel).await;
        if e.clear().await.is_ok() {
            e.send_keys(text).await.unwrap();
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{sel} does not take input");
}

async fn text(c: &Client, sel: &str) -> String {
    css(c, sel).await.text().await.unwrap()
}

async fn page(c: &Client) -> String {
    c.source().await.unwrap()
}

async fn url(c: &Client) -> String {
    c.current_url().await.unwrap().to_string()
}

/// axe-core's source, from the file `ORDERDECK_AXE` names (`.ci/run` fetches the npm package
/// `axe-core` and sets it). Required under CI; without it elsewhere the accessibility check is
/// skipped with a notice.
fn axe_source() -> Option<String> {
    match std::env::var("ORDERDECK_AXE") {
        Ok(path) => Some(
            std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("ORDERDECK_AXE={path} cannot be read: {e}")),
        ),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "ORDERDECK_AXE must name axe.min.js under CI (see .ci/run)"
            );
            eprintln!("ORDERDECK_AXE is not set: the axe-core accessibility check is skipped");
            None
        }
    }
}

/// The WCAG 2 A/AA violations axe-core finds on the page as it stands: "rule: element, …".
async fn axe_violations(c: &Client, src: &str) -> Vec<String> {
    c.execute(src, vec![]).await.expect("load axe-core");
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})
               .then(r => done(r.violations.map(v => v.id + ' (' + v.help + '): ' +
                     v.nodes.map(n => n.target.join(' ')).join(', '))))
               .catch(e => done(['axe-core failed: ' + e]));",
            vec![],
        )
        .await
        .expect("run axe-core");
    serde_json::from_value(found).expect("a list of violations")
}

async fn shot(c: &Client, name: &str) {
    c.execute(
        "window.scrollTo(0, 0); if (document.activeElement) { document.activeElement.blur(); }",
        vec![],
    )
    .await
    .unwrap();
    shot_as_is(c, name).await;
}

/// A screenshot of the page as it stands (focus and scroll kept).
async fn shot_as_is(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), &png).unwrap();
    if refresh_docs_screenshots() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(name), &png).unwrap();
    }
}

/// Whether to copy the screenshots into `docs/` too (the README's pictures):
/// `ORDERDECK_SCREENSHOTS=docs`. Otherwise they are only written under the target directory, so a
/// test run leaves the tracked files alone.
fn refresh_docs_screenshots() -> bool {
    match std::env::var("ORDERDECK_SCREENSHOTS") {
        Ok(v) if v == "docs" => true,
        Ok(v) if !v.is_empty() => panic!("ORDERDECK_SCREENSHOTS={v}: the only value is `docs`"),
        _ => false,
    }
}

async fn order_json(app: &App, token: &str, n: u64) -> serde_json::Value {
    client_builder()
        .build()
        .expect("client")
        .get(format!("{}/api/v1/orders/{n}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn dec(v: &serde_json::Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

/// Focuses the first item's hover card and returns what hides part of it: the ancestors that
/// clip it, and "viewport" when it runs off the screen (empty when it is wholly visible).
async fn tip_hidden_by(c: &Client) -> String {
    c.execute(
        "var t = document.querySelector('.has-tip'); t.focus(); \
         var r = t.querySelector('.tip').getBoundingClientRect(); var out = []; \
         if (r.width === 0) out.push('not shown'); \
         for (var e = t.parentElement; e && e !== document.documentElement; e = e.parentElement) { \
           var s = getComputedStyle(e); \
           if (s.overflowX !== 'visible' || s.overflowY !== 'visible') { \
             var b = e.getBoundingClientRect(); \
             if (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 || r.bottom > b.bottom + 1) \
               out.push(e.tagName + '.' + e.className); } } \
         if (r.left < 0 || r.right > document.documentElement.clientWidth) out.push('viewport'); \
         return out.join(', ');",
        vec![],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap()
    .to_string()
}

/// The page as the browser prints it to PDF on a `width` × `height` cm sheet (margins in cm:
/// the page's own `@page` margins when `None`).
async fn print_pdf(c: &Client, width: f64, height: f64, margin: Option<f64>) -> Vec<u8> {
    let mut config = fantoccini::wd::PrintConfiguration::builder()
        .size(fantoccini::wd::PrintSize { width, height })
        .shrink_to_fit(false);
    if let Some(m) = margin {
        config = config.margins(fantoccini::wd::PrintMargins {
            top: m,
            bottom: m,
            left: m,
            right: m,
        });
    }
    c.print(config.build().unwrap())
        .await
        .expect("print to PDF")
}

/// How many pages a PDF has (its `/Type /Page` objects).
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.matches("/Type /Page").count() - text.matches("/Type /Pages").count()
        + text.matches("/Type/Page").count()
        - text.matches("/Type/Pages").count()
}

async fn badges(c: &Client) -> (String, String) {
    (
        text(c, "#payment-status").await,
        text(c, "#fulfillment-status").await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_works_an_order_from_setup_to_return_in_a_real_browser() {
    let driver = start_driver().await;
    let app = spawn_app();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    let base = app.base.clone();

    // Setup link → owner account → sign in.
    c.goto(app.setup_link.as_deref().unwrap()).await.unwrap();
    fill(&c, "#display_name", "Olive Owner").await;
    fill(&c, "#username", "olive").await;
    fill(&c, "#store_name", "My Store").await;
    fill(&c, "#store_email", "olive@example.com").await;
    fill(&c, "#password", "correct horse battery").await;
    fill(&c, "#password_confirm", "correct horse battery").await;
    click(&c, "#main form button[type=submit]").await;
    assert!(url(&c).await.contains("/login"));
    assert!(text(&c, ".flash").await.contains("owner account is ready"));
    fill(&c, "#username", "olive").await;
    fill(&c, "#password", "correct horse battery").await;
    click(&c, "#main form button[type=submit]").await;
    assert!(url(&c).await.ends_with("/orders"), "{}", url(&c).await);

    // A webhook endpoint for the storefront, added in Settings > Webhooks: every change below
    // is delivered to a real receiver (the fourth delivery is refused, to show a failure).
    let rx = Receiver::start(&[
        Reply::Status(204),
        Reply::Status(204),
        Reply::Status(204),
        Reply::Status(500),
    ])
    .await;
    c.goto(&format!("{base}/settings/webhooks")).await.unwrap();
    fill(&c, "#url", &rx.url("/hooks/orderdeck")).await;
    for event in [
        "order.created",
        "order.payment_status_changed",
        "order.fulfillment_status_changed",
        "shipment.updated",
    ] {
        tap(&c, &format!("input[value='{event}']")).await;
    }
    click(&c, "#add-webhook button[type=submit]").await;
    let hook_page = url(&c).await;
    assert!(hook_page.contains("/settings/webhooks/"), "{hook_page}");
    assert!(text(&c, ".flash").await.contains("Endpoint added"));

    // Place test orders until one is unpaid with at least three units, two of them of the first
    // item (test orders are random): a unit is refunded, one shipped, and some left to ship.
    let token = app.create_token("inspector");
    let mut chosen = None;
    let mut placed = Vec::new();
    for _ in 0..30 {
        c.goto(&format!("{base}/orders")).await.unwrap();
        click(&c, "#place-test-order").await;
        let u = url(&c).await;
        let n: u64 = u.rsplit('/').next().unwrap().parse().unwrap();
        placed.push(n);
        let o = order_json(&app, &token, n).await;
        let units: u64 = o["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["quantity"].as_u64().unwrap())
            .sum();
        let first_qty = o["items"][0]["quantity"].as_u64().unwrap();
        if placed.len() >= 2 && o["payment_status"] != "paid" && units >= 3 && first_qty >= 2 {
            chosen = Some((n, o));
            break;
        }
    }
    let (n, order) = chosen.expect("a test order that is unpaid with three units");
    assert!(text(&c, ".flash").await.contains("Test order"));

    // Search and filter.
    c.goto(&format!("{base}/orders")).await.unwrap();
    shot(&c, "orders.png").await;
    fill(&c, "#q", &n.to_string()).await;
    click(&c, ".filters button[type=submit]").await;
    let html = page(&c).await;
    assert!(html.contains(&format!("href=\"/orders/{n}\"")));
    let other = placed.iter().find(|m| **m != n).unwrap();
    assert!(
        !html.contains(&format!("href=\"/orders/{other}\"")),
        "search narrows the list"
    );
    fill(&c, "#q", "").await;
    css(&c, "#test")
        .await
        .select_by_value("true")
        .await
        .unwrap();
    click(&c, ".filters button[type=submit]").await;
    assert!(url(&c).await.contains("test=true"));
    assert_eq!(
        c.find_all(Locator::Css("table.orders tbody tr"))
            .await
            .unwrap()
            .len(),
        placed.len()
    );
    css(&c, "#test")
        .await
        .select_by_value("false")
        .await
        .unwrap();
    click(&c, ".filters button[type=submit]").await;
    assert!(text(&c, "table.orders tbody")
        .await
        .contains("No orders match"));

    // Open the order.
    c.goto(&format!("{base}/orders?test=true")).await.unwrap();
    click(&c, &format!("a[href=\"/orders/{n}\"]")).await;
    assert!(text(&c, "h1").await.contains(&format!("Order #{n}")));
    assert!(text(&c, "h1 .badge").await.contains("Test"));

    // Notes: add, edit, delete.
    fill(&c, "#note-body", "Gift wrap, please").await;
    click(&c, "#send-note").await;
    assert!(text(&c, ".notes").await.contains("Gift wrap, please"));
    assert!(text(&c, ".notes").await.contains("Olive Owner"));
    tap(&c, ".note details.menu summary").await;
    click(&c, ".note details.menu a[href$=\"/edit\"]").await;
    fill(&c, "#body", "Gift wrap in blue paper").await;
    click(&c, "#save-note").await;
    assert!(text(&c, ".notes").await.contains("Gift wrap in blue paper"));
    assert!(text(&c, ".notes").await.contains("edited"));
    tap(&c, ".note details.menu summary").await;
    click(&c, ".note details.menu a[href$=\"/delete\"]").await;
    assert!(text(&c, "#cannot-undo")
        .await
        .contains("cannot be restored"));
    click(&c, "#confirm").await;
    assert!(!text(&c, "#notes").await.contains("Gift wrap"));

    // Record a partial payment.
    let total = dec(&order["totals"]["total"]);
    let partial = format!("{:.2}", total - 1.0);
    click(&c, "#btn-payment").await;
    fill(&c, "#amount", &partial).await;
    click(&c, "#review").await;
    assert!(text(&c, "#cannot-undo").await.contains("cannot be removed"));
    click(&c, "#confirm").await;
    assert!(text(&c, ".flash").await.contains("Payment of"));
    assert_eq!(badges(&c).await.0, "Partially Paid");

    // Refund one unit of the cheapest item; the form shows the amount live.
    let items = order["items"].as_array().unwrap();
    let cheapest = items
        .iter()
        .min_by(|a, b| dec(&a["unit_price"]).total_cmp(&dec(&b["unit_price"])))
        .unwrap();
    let cheapest_id = cheapest["id"].as_str().unwrap();
    click(&c, "#btn-refund").await;
    fill(&c, &format!("#qty_{cheapest_id}"), "1").await;
    let live = text(&c, "#refund-amount").await;
    assert_eq!(
        live,
        format!("{:.2}", dec(&cheapest["unit_price"])),
        "live refund amount"
    );
    assert!(text(&c, "#refundable").await.contains(&partial));
    c.set_window_size(1280, 1100).await.unwrap();
    shot(&c, "refund-form.png").await;
    c.set_window_size(1280, 900).await.unwrap();
    click(&c, "#review").await;
    assert!(text(&c, "#cannot-undo").await.contains("payment provider"));
    click(&c, "#confirm").await;
    assert!(text(&c, ".flash").await.contains("Refund of"));
    assert_eq!(badges(&c).await.0, "Partially Refunded");

    // Fulfil one unit of the first item only.
    let first_id = items[0]["id"].as_str().unwrap();
    click(&c, "#btn-fulfill").await;
    for it in items.iter().skip(1) {
        let id = it["id"].as_str().unwrap();
        tap(&c, &format!("#tick_{id}")).await;
    }
    fill(&c, &format!("#qty_{first_id}"), "1").await;
    click(&c, "#review").await;
    click(&c, "#confirm").await;
    assert!(text(&c, ".flash").await.contains("Shipment created"));
    assert_eq!(badges(&c).await.1, "Partially Fulfilled");
    assert!(text(&c, ".shipment .badge")
        .await
        .contains("Awaiting Shipment"));
    c.set_window_size(1280, 1300).await.unwrap();
    shot(&c, "order.png").await;
    c.set_window_size(1280, 900).await.unwrap();

    // Mark that shipment delivered.
    tap(&c, ".shipment details.menu summary").await;
    click(&c, ".shipment details.menu a[href$=\"/deliver\"]").await;
    click(&c, "#confirm").await;
    assert!(text(&c, ".shipment .badge").await.contains("Delivered"));
    assert_eq!(badges(&c).await.1, "Partially Fulfilled");

    // Return the delivered item.
    click(&c, "#btn-return").await;
    fill(&c, &format!("#qty_{first_id}"), "1").await;
    click(&c, "#review").await;
    click(&c, "#confirm").await;
    assert!(text(&c, ".flash").await.contains("Return recorded"));
    let (pay, ful) = badges(&c).await;
    assert_eq!(pay, "Partially Refunded");
    assert_eq!(ful, "Partially Returned");
    let ledger = text(&c, "table.ledger").await;
    assert!(ledger.contains("1"), "{ledger}");
    // Canceling is refused now (something shipped): the button is disabled with the reason.
    let cancel = css(&c, "#btn-cancel").await;
    assert!(!cancel.is_enabled().await.unwrap());
    assert!(page(&c)
        .await
        .contains("Orders with shipped items cannot be canceled"));

    // A real order arrives over the API: Place Test Order disappears.
    c.goto(&format!("{base}/orders")).await.unwrap();
    assert!(c.find(Locator::Css("#place-test-order")).await.is_ok());
    let real = client_builder()
        .build()
        .expect("client")
        .post(format!("{base}/api/v1/orders"))
        .bearer_auth(&token)
        .json(&real_order_json("Rita Real"))
        .send()
        .await
        .unwrap();
    assert_eq!(real.status(), reqwest::StatusCode::CREATED);
    c.refresh().await.unwrap();
    assert!(text(&c, "table.orders").await.contains("Rita Real"));
    assert!(
        c.find(Locator::Css("#place-test-order")).await.is_err(),
        "the button is gone"
    );

    // A form posted without its CSRF token is refused.
    c.goto(&format!("{base}/orders/{n}")).await.unwrap();
    c.execute(
        "var f = document.querySelector('#notes form'); f.querySelector('input[name=csrf]').remove(); \
         f.querySelector('textarea').value = 'forged';",
        vec![],
    )
    .await
    .unwrap();
    click(&c, "#send-note").await;
    assert!(text(&c, "h1").await.contains("Form refused"));
    c.goto(&format!("{base}/orders/{n}")).await.unwrap();
    assert!(!page(&c).await.contains("forged"));

    // Carrier fulfil the rest: Get rates → Buy label → Print label with its barcode.
    c.goto(&format!("{base}/orders/{n}/carrier")).await.unwrap();
    // The address blocks are folded to a line each: the form is short.
    let height = c
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    assert!(
        height < 1800,
        "the Carrier Fulfill form is {height} px tall"
    );
    c.set_window_size(1280, 1800).await.unwrap();
    shot(&c, "carrier-form.png").await;
    c.set_window_size(1280, 900).await.unwrap();
    click(&c, "#get-rates").await;
    css(&c, "#rates-table").await;
    // The page lands on the rates.
    let at = c
        .execute(
            "var r = document.querySelector('#rates').getBoundingClientRect(); \
             return [r.top, window.innerHeight, window.scrollY];",
            vec![],
        )
        .await
        .unwrap();
    let (top, inner, scrolled) = (
        at[0].as_f64().unwrap(),
        at[1].as_f64().unwrap(),
        at[2].as_f64().unwrap(),
    );
    assert!(
        scrolled > 0.0 && top > -2.0 && top < inner,
        "the rates are not in view: top {top} of {inner}, scrolled {scrolled}"
    );
    shot_as_is(&c, "carrier-rates.png").await;
    tap(&c, "#rate-1").await;
    click(&c, "#buy-review").await;
    assert!(text(&c, "#cannot-undo").await.contains("cannot be undone"));
    click(&c, "#confirm").await;
    let o = order_json(&app, &token, n).await;
    let carrier = o["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "carrier")
        .expect("a carrier shipment")
        .clone();
    let tracking = carrier["tracking_number"].as_str().unwrap().to_string();
    assert!(
        page(&c).await.contains(&tracking),
        "the order page shows the new tracking number"
    );
    c.goto(&format!(
        "{base}/orders/{n}/shipments/{}/label",
        carrier["id"].as_str().unwrap()
    ))
    .await
    .unwrap();
    let label = page(&c).await;
    assert!(label.contains("<svg") && label.contains(&tracking));
    assert!(!label.contains("chargeable_weight"), "readable labels");
    shot(&c, "label.png").await;
    // Printed to PDF on a 4 × 6 in sheet (no margins, no shrinking): one page.
    let pdf = print_pdf(&c, 10.16, 15.24, Some(0.0)).await;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("label.pdf"), &pdf).unwrap();
    let pages = pdf_pages(&pdf);
    assert_eq!(pages, 1, "the label printed on {pages} sheets");

    c.set_window_size(1280, 1400).await.unwrap();
    c.goto(&format!("{base}/workflow")).await.unwrap();
    shot(&c, "workflow.png").await;
    c.set_window_size(1280, 900).await.unwrap();

    // The outbox says why messages wait while no transport is configured.
    c.goto(&format!("{base}/outbox")).await.unwrap();
    assert!(page(&c).await.contains("id=\"outbox-waiting\""));
    shot(&c, "outbox.png").await;

    // Packing slips and an invoice: print-ready, one order per A4 sheet.
    let other = *placed
        .iter()
        .find(|p| **p != n)
        .expect("a second test order");
    c.goto(&format!("{base}/orders/{n}/invoice")).await.unwrap();
    assert!(page(&c).await.contains("Balance due"));
    shot(&c, "invoice.png").await;
    c.goto(&format!("{base}/orders/packing-slips?orders={n},{other}"))
        .await
        .unwrap();
    assert!(css(&c, "button[data-print]")
        .await
        .is_displayed()
        .await
        .unwrap());
    shot(&c, "packing-slip.png").await;
    let pdf = print_pdf(&c, 21.0, 29.7, None).await;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("packing-slips.pdf"), &pdf).unwrap();
    let pages = pdf_pages(&pdf);
    assert_eq!(pages, 2, "two packing slips printed on {pages} A4 sheets");

    // Tags, a saved view and a bulk action: tick two orders (the count follows at once),
    // pick "Add tag" (only its field shows), preview, confirm.
    c.goto(&format!("{base}/orders/{n}")).await.unwrap();
    fill(&c, "#tag-new", "Wholesale").await;
    click(&c, "#add-tag").await;
    assert!(page(&c)
        .await
        .contains(r#"href="/orders?tag=wholesale">wholesale</a>"#));
    c.goto(&format!("{base}/orders?tag=wholesale"))
        .await
        .unwrap();
    fill(&c, "#view-name", "Wholesale").await;
    click(&c, "#save-view-button").await;
    let tab = text(&c, "#view-tabs a[aria-current='page']").await;
    assert_eq!(
        tab.split_whitespace().collect::<Vec<_>>(),
        ["Wholesale", "1"]
    );
    let view_page = url(&c).await;
    c.goto(&format!("{base}/orders")).await.unwrap();
    tap(&c, &format!("#pick-{n}")).await;
    tap(&c, &format!("#pick-{other}")).await;
    assert_eq!(text(&c, "#selected-count").await, "2 selected");
    tap(&c, "#bulk-action option[value='tag']").await;
    assert!(css(&c, "#bulk-tag").await.is_displayed().await.unwrap());
    assert!(!css(&c, "#bulk-reason").await.is_displayed().await.unwrap());
    // Dispatch: the worked order is past that (refused, with the rule), the other goes.
    tap(&c, "#bulk-action option[value='dispatch']").await;
    assert!(!css(&c, "#bulk-tag").await.is_displayed().await.unwrap());
    shot(&c, "orders-bulk.png").await;
    let before = order_json(&app, &token, n).await;
    let mut bulk_violations = Vec::new();
    click(&c, "#bulk-preview").await;
    assert!(text(&c, "h1").await.contains("Review: Mark as dispatched"));
    assert_eq!(text(&c, "#bulk-ok").await, "1 order");
    assert!(text(&c, &format!("#bulk-{n}"))
        .await
        .contains("dispatch_not_allowed"));
    if let Some(src) = &axe_source() {
        bulk_violations.extend(axe_violations(&c, src).await);
    }
    shot(&c, "bulk-preview.png").await;
    click(&c, "#confirm-bulk").await;
    assert!(text(&c, "h1").await.contains("Done: Mark as dispatched"));
    if let Some(src) = &axe_source() {
        bulk_violations.extend(axe_violations(&c, src).await);
    }
    assert!(bulk_violations.is_empty(), "{bulk_violations:?}");
    assert_eq!(
        order_json(&app, &token, n).await,
        before,
        "the refused order is unchanged"
    );
    let o = order_json(&app, &token, other).await;
    assert_eq!(o["fulfillment_status"], "dispatched");

    // Settings > Webhooks: the endpoint and its delivery log.
    assert!(
        rx.wait_for(4, 10).await.len() >= 4,
        "the webhooks did not arrive"
    );
    c.goto(&hook_page).await.unwrap();
    assert!(page(&c).await.contains("id=\"deliveries\""));
    assert!(page(&c).await.contains("HTTP 204"));
    shot(&c, "webhook.png").await;
    c.goto(&format!("{base}/settings/webhooks")).await.unwrap();
    shot(&c, "webhooks.png").await;

    c.goto(&format!("{base}/orders/{n}")).await.unwrap();
    assert_eq!(tip_hidden_by(&c).await, "", "the item card");
    shot_as_is(&c, "item-card.png").await;

    // At phone width (390 px) no page scrolls sideways, and axe-core finds no WCAG 2 A/AA
    // violation on any page.
    c.set_window_size(390, 844).await.unwrap();
    let axe = axe_source();
    let mut too_wide = Vec::new();
    let mut violations = Vec::new();
    for path in [
        "/orders".to_string(),
        format!("/orders/{n}"),
        format!("/orders/{n}/act/payment"),
        format!("/orders/{n}/act/refund"),
        format!("/orders/{n}/act/fulfill"),
        format!("/orders/{n}/carrier"),
        "/outbox".to_string(),
        "/customers".to_string(),
        "/settings".to_string(),
        "/settings/notifications".to_string(),
        "/settings/scripts".to_string(),
        "/settings/shipping".to_string(),
        format!("/orders/{n}/packing-slip"),
        format!("/orders/{n}/invoice"),
        "/settings/webhooks".to_string(),
        hook_page.trim_start_matches(base.as_str()).to_string(),
        "/workflow".to_string(),
        view_page.trim_start_matches(base.as_str()).to_string(),
    ] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        if let Some(src) = &axe {
            for v in axe_violations(&c, src).await {
                violations.push(format!("{path}: {v}"));
            }
        }
        let w = c
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        let (scroll, inner) = (w[0].as_u64().unwrap(), w[1].as_u64().unwrap());
        if scroll > inner {
            too_wide.push(format!("{path}: {scroll} px in {inner}"));
        }
        match path.as_str() {
            p if p == format!("/orders/{n}") => {
                shot(&c, "phone-order.png").await;
                // The item's hover card shows whole (not cut by the table's scroll box).
                assert_eq!(tip_hidden_by(&c).await, "", "the item card at 390 px");
                shot_as_is(&c, "phone-item-card.png").await;
            }
            "/settings" => shot(&c, "phone-settings.png").await,
            "/outbox" => shot(&c, "phone-outbox.png").await,
            p if p == format!("/orders/{n}/carrier") => shot(&c, "phone-carrier.png").await,
            _ => {}
        }
    }
    assert!(
        too_wide.is_empty(),
        "pages wider than a phone: {too_wide:?}"
    );
    assert!(
        violations.is_empty(),
        "axe-core (WCAG 2 A/AA) violations:\n{}",
        violations.join("\n")
    );
    c.set_window_size(1280, 900).await.unwrap();

    // Sign out; an anonymous visitor is sent to the sign-in page.
    click(&c, ".who button").await;
    c.goto(&format!("{base}/orders/{n}")).await.unwrap();
    let u = url(&c).await;
    assert!(u.contains("/login?next=%2Forders%2F"), "{u}");
    c.close().await.unwrap();
}

/// A small paid order: 2 × Camp Mug at 5.00 and 1 × Tote at 3.00, shipping 1.00 (14.00).
fn small_order(name: &str, email: &str, phone: &str, paid: bool) -> serde_json::Value {
    serde_json::json!({
        "customer": {"name": name, "email": email, "phone": phone},
        "shipping_address": {"name": name, "line1": "1 Main St", "city": "Portland",
                             "region": "OR", "postal_code": "97205", "country": "US"},
        "items": [
            {"sku": "MUG-1", "name": "Camp Mug", "unit_price": "5.00", "quantity": 2},
            {"sku": "TOTE-1", "name": "Tote", "unit_price": "3.00", "quantity": 1}
        ],
        "shipping": {"method": "Standard", "price": "1.00"},
        "payment": {"method": if paid { "card" } else { "money_transfer" }, "paid": paid}
    })
}

/// What a merchant hit in the first week, clicked through again: setup asks for the store's
/// e-mail, phone search, a message whose template failed rendered again after the fix, a
/// refunded item that can no longer ship, one mail per shipment event (received by a real SMTP
/// server), a clear cancel button, and a list page that keeps looking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_week_problems_stay_fixed_in_a_real_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let port = common::free_port();
    for (k, v) in [
        ("smtp.host", "127.0.0.1".to_string()),
        ("smtp.port", port.to_string()),
        ("smtp.from", "Corner Shop <shop@corner.example>".to_string()),
    ] {
        common::set_setting(&dir, k, &v);
    }
    let smtp = common::start_smtp(port);
    // The payment template is broken (as when a merchant's edit goes wrong).
    let scripts = tmp.path().join("scripts");
    let template = scripts.join("notifications/payment_status_changed.rhai");
    std::fs::create_dir_all(template.parent().unwrap()).unwrap();
    std::fs::write(
        &template,
        "fn render(ctx) { throw \"broken on purpose\"; }\n",
    )
    .unwrap();
    let app = App::builder()
        .data_dir(&dir)
        .token("storefront")
        .arg("--scan-budget")
        .arg("20")
        .arg("--scripts-dir")
        .arg(&scripts)
        .spawn();
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    let base = app.base.clone();

    // Setup asks for the store's name and e-mail (where "new order" messages go).
    c.goto(app.setup_link.as_deref().unwrap()).await.unwrap();
    fill(&c, "#display_name", "Cora Owner").await;
    fill(&c, "#username", "cora").await;
    fill(&c, "#store_name", "Corner Shop").await;
    fill(&c, "#store_email", "cora@corner.example").await;
    fill(&c, "#password", "correct horse battery").await;
    fill(&c, "#password_confirm", "correct horse battery").await;
    click(&c, "#main form button[type=submit]").await;
    fill(&c, "#username", "cora").await;
    fill(&c, "#password", "correct horse battery").await;
    click(&c, "#main form button[type=submit]").await;
    assert!(url(&c).await.ends_with("/orders"), "{}", url(&c).await);

    let placed = app
        .place(small_order(
            "Pia Phone",
            "pia@example.com",
            "+1 (555) 446-5066",
            true,
        ))
        .await;
    let n = placed["number"].as_u64().unwrap();
    let mug = placed["items"][0]["id"].as_str().unwrap().to_string();
    let tote = placed["items"][1]["id"].as_str().unwrap().to_string();

    // Phone search: any run of digits, typed any way.
    for q in ["446 5066", "+1 555 446 5066", "5554465066"] {
        c.goto(&format!("{base}/orders")).await.unwrap();
        fill(&c, "#q", q).await;
        click(&c, ".filters button[type=submit]").await;
        assert!(
            page(&c).await.contains(&format!("href=\"/orders/{n}\"")),
            "searching {q:?}"
        );
    }

    // Refund the tote before it ships: it can no longer be fulfilled.
    c.goto(&format!("{base}/orders/{n}")).await.unwrap();
    click(&c, "#btn-refund").await;
    fill(&c, &format!("#qty_{tote}"), "1").await;
    click(&c, "#review").await;
    click(&c, "#confirm").await;
    assert!(text(&c, ".flash").await.contains("Refund of"));

    // Its message failed to render; fixed and reloaded, "Render again and send" reaches her.
    c.goto(&format!("{base}/outbox")).await.unwrap();
    let again = "form[action$='/resend'] button[title]";
    assert_eq!(text(&c, again).await, "Render again and send");
    std::fs::write(
        &template,
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scripts/notifications/payment_status_changed.rhai"),
        )
        .unwrap(),
    )
    .unwrap();
    c.goto(&format!("{base}/settings/scripts")).await.unwrap();
    click(&c, "#reload").await;
    c.goto(&format!("{base}/outbox")).await.unwrap();
    click(&c, again).await;
    assert!(c.find(Locator::Css(again)).await.is_err(), "rendered again");

    c.goto(&format!("{base}/orders/{n}")).await.unwrap();
    click(&c, "#btn-fulfill").await;
    let tote_max = css(&c, &format!("#qty_{tote}"))
        .await
        .attr("max")
        .await
        .unwrap();
    assert_eq!(
        tote_max.as_deref(),
        Some("0"),
        "the refunded tote is not fulfillable"
    );

    // Two shipments of one mug each, then the second one canceled: one mail each, about it.
    for _ in 0..2 {
        c.goto(&format!("{base}/orders/{n}/act/fulfill"))
            .await
            .unwrap();
        fill(&c, &format!("#qty_{mug}"), "1").await;
        click(&c, "#review").await;
        click(&c, "#confirm").await;
        assert!(text(&c, ".flash").await.contains("Shipment created"));
    }
    let o = order_json(&app, app.token(), n).await;
    let second = o["shipments"][1]["id"].as_str().unwrap().to_string();
    c.goto(&format!("{base}/orders/{n}/shipments/{second}/void"))
        .await
        .unwrap();
    click(&c, "#confirm").await;

    // Every e-mail reaches the SMTP server; the shipping ones are exactly these three.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, v) = app.get(&format!("/outbox?order={n}")).await;
        let emails: Vec<&serde_json::Value> = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["channel"] == "email")
            .collect();
        if emails.iter().all(|m| m["status"] == "sent") {
            break;
        }
        assert!(Instant::now() < deadline, "not delivered: {v}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let subjects: Vec<String> = smtp
        .received()
        .iter()
        .filter(|m| m.contains("To: pia@example.com"))
        .filter_map(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .map(str::to_string)
        })
        .collect();
    assert!(
        subjects.iter().any(|s| s.contains("refund")),
        "the re-rendered refund mail: {subjects:?}"
    );
    let mut shipping: Vec<String> = subjects
        .into_iter()
        .filter(|s| s.contains("on its way") || s.contains("canceled"))
        .collect();
    shipping.sort();
    assert_eq!(
        shipping,
        vec![
            format!("A shipment of your order #{n} was canceled"),
            format!("Part of your order #{n} is on its way"),
            format!("The rest of your order #{n} is on its way"),
        ]
    );

    // Canceling an order: the buttons say what they do.
    let other = app
        .place(small_order("Otto Other", "otto@example.com", "", false))
        .await["number"]
        .as_u64()
        .unwrap();
    c.goto(&format!("{base}/orders/{other}")).await.unwrap();
    click(&c, "#btn-cancel").await;
    fill(&c, "#reason", "Customer asked").await;
    click(&c, "#review").await;
    assert_eq!(text(&c, "#confirm").await, "Cancel this order");
    assert_eq!(text(&c, "#leave").await, "Keep the order");
    click(&c, "#leave").await;
    assert_eq!(badges(&c).await.1, "Unfulfilled");

    // A filtered list sorted by total whose one match lies past the first 20 orders looked at:
    // "Still searching", and the link finds it.
    for i in 0..30 {
        let mut b = common::order_body(&format!("Una Unpaid {i}"), "una@example.com");
        b["payment"] = serde_json::json!({"method": "money_transfer"});
        app.place(b).await;
    }
    c.goto(&format!(
        "{base}/orders?payment_status=partially_refunded&sort=-total"
    ))
    .await
    .unwrap();
    let html = page(&c).await;
    assert!(html.contains("Still searching") && !html.contains("No orders match"));
    shot(&c, "still-searching.png").await;
    click(&c, "a[rel=next]").await;
    assert!(page(&c).await.contains(&format!("href=\"/orders/{n}\"")));
    c.close().await.unwrap();
}
