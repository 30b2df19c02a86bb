//! Unit tests of the script host: loading, overriding, errors, limits, reload.

use super::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("notifications")).unwrap();
    std::fs::create_dir_all(dir.path().join("carriers")).unwrap();
    dir
}

fn write(dir: &Path, rel: &str, text: &str) {
    std::fs::write(dir.join(rel), text).unwrap();
}

fn ctx() -> serde_json::Value {
    json!({"event": "order_placed", "order": {"number": 1001}, "store": {"name": "Shop"}, "shipment": null, "recipient": "customer"})
}

fn request() -> RateRequest {
    serde_json::from_value(json!({
        "items": [{"sku": "MUG", "name": "Mug", "quantity": 2, "weight_grams": 300, "unit_price": "16.50"}],
        "package": {"length_cm": 20, "width_cm": 15, "height_cm": 10, "weight_grams": 800},
        "recipient": {"name": "Olivia", "city": "Portland", "postal_code": "97209", "country": "US"},
        "shipper": {"name": "Shop", "city": "Portland", "postal_code": "97205", "country": "US"},
        "drop_off_date": "2025-03-06",
        "currency": "USD"
    }))
    .unwrap()
}

#[test]
fn the_defaults_list_matches_the_scripts_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let mut on_disk = Vec::new();
    for sub in ["notifications", "carriers"] {
        for e in std::fs::read_dir(root.join(sub)).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".rhai") {
                on_disk.push(format!("{sub}/{name}"));
            }
        }
    }
    on_disk.sort();
    let mut embedded: Vec<String> = DEFAULT_SCRIPTS.iter().map(|(p, _)| p.to_string()).collect();
    embedded.sort();
    assert_eq!(
        embedded, on_disk,
        "add new default scripts to DEFAULT_SCRIPTS"
    );
}

#[test]
fn every_default_loads_without_a_folder() {
    let host = ScriptHost::load(None).unwrap();
    let infos = host.scripts();
    assert_eq!(infos.len(), DEFAULT_SCRIPTS.len());
    assert!(infos
        .iter()
        .all(|i| i.source == ScriptSource::Embedded && i.enabled));
    assert_eq!(infos[0].kind, ScriptKind::Notification);
    let ids: Vec<String> = host.carriers().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, ["express", "local_courier", "national_post"]);
    let paths = ScriptHost::check(None).unwrap();
    assert_eq!(paths.len(), DEFAULT_SCRIPTS.len());
    assert_eq!(
        paths[0],
        "scripts/notifications/fulfillment_status_changed.rhai"
    );
    // A folder that does not exist means the defaults too.
    assert!(ScriptHost::load(Some(Path::new("/nonexistent/orderdeck-scripts"))).is_ok());
}

#[test]
fn a_folder_file_overrides_its_default_and_the_rest_stay_built_in() {
    let dir = folder();
    write(
        dir.path(),
        "notifications/order_placed.rhai",
        r#"fn render(ctx) { #{ sms: `Custom #${ctx.order.number}` } }"#,
    );
    let host = ScriptHost::load(Some(dir.path())).unwrap();
    let r = host.render("order_placed", &ctx()).unwrap().unwrap();
    assert_eq!(r.sms.as_deref(), Some("Custom #1001"));
    assert!(r.email.is_none());
    let info = host
        .scripts()
        .into_iter()
        .find(|i| i.name == "order_placed")
        .unwrap();
    assert_eq!(info.source, ScriptSource::Folder);
    assert!(host
        .scripts()
        .iter()
        .any(|i| i.name == "shipment_updated" && i.source == ScriptSource::Embedded));
}

#[test]
fn an_empty_file_turns_a_script_off() {
    let dir = folder();
    write(dir.path(), "notifications/order_placed.rhai", "// off\n");
    write(dir.path(), "carriers/express.rhai", "");
    let host = ScriptHost::load(Some(dir.path())).unwrap();
    assert_eq!(host.render("order_placed", &ctx()).unwrap(), None);
    assert!(host.carriers().iter().all(|c| c.id != "express"));
    assert!(host
        .scripts()
        .iter()
        .any(|i| i.name == "express" && !i.enabled));
    assert!(matches!(
        host.tracking_url("express", "X"),
        Err(ScriptError::NotFound { .. })
    ));
}

#[test]
fn a_syntax_error_reports_path_line_and_column() {
    let dir = folder();
    write(
        dir.path(),
        "notifications/order_placed.rhai",
        "fn render(ctx) {\n    let x = ;\n}\n",
    );
    write(dir.path(), "carriers/broken.rhai", "fn carrier( {");
    let errors = ScriptHost::load(Some(dir.path())).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let path = dir.path().join("notifications/order_placed.rhai");
    let shown = errors[0].to_string();
    assert!(
        shown.starts_with(&format!("{}:2:13: ", path.display())),
        "{shown}"
    );
    match &errors[0] {
        ScriptError::Compile { line, col, .. } => assert_eq!((*line, *col), (2, 13)),
        other => panic!("{other:?}"),
    }
    assert!(
        errors[1].to_string().contains("carriers/broken.rhai:1:"),
        "{}",
        errors[1]
    );
    // check() reports the same errors.
    assert_eq!(ScriptHost::check(Some(dir.path())).unwrap_err(), errors);
}

#[test]
fn missing_functions_and_unknown_events_are_load_errors() {
    let dir = folder();
    write(
        dir.path(),
        "notifications/order_shipped.rhai",
        "fn render(ctx) { () }",
    );
    write(
        dir.path(),
        "carriers/half.rhai",
        "fn carrier() { #{name: \"Half\", services: [#{code: \"a\", name: \"A\"}]} }",
    );
    let errors = ScriptHost::load(Some(dir.path())).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|e| e.contains("must define `fn rates(request)`")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("\"order_shipped\" is not a notification event")),
        "{text:?}"
    );
}

#[test]
fn a_carrier_whose_carrier_function_is_wrong_fails_to_load() {
    let dir = folder();
    write(
        dir.path(),
        "carriers/odd.rhai",
        "fn carrier() { #{name: \"Odd\", services: []} }\nfn rates(r) { [] }\nfn tracking_url(n) { \"https://x\" }\nfn label(r, s) { #{} }",
    );
    let errors = ScriptHost::load(Some(dir.path())).unwrap_err();
    assert!(matches!(&errors[0], ScriptError::BadReturn { function, .. } if function == "carrier"));
    assert!(
        errors[0].to_string().contains("at least one service"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_runtime_error_names_the_script_and_function() {
    let dir = folder();
    write(
        dir.path(),
        "notifications/order_placed.rhai",
        "fn render(ctx) {\n  throw \"no template yet\";\n}",
    );
    let host = ScriptHost::load(Some(dir.path())).unwrap();
    let err = host.render("order_placed", &ctx()).unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, ScriptError::Runtime { .. }));
    assert!(shown.contains("order_placed.rhai: render(): "), "{shown}");
    assert!(shown.contains("no template yet"), "{shown}");
    assert!(shown.contains("line 2"), "{shown}");
}

#[test]
fn a_bad_return_value_is_named() {
    let dir = folder();
    write(
        dir.path(),
        "notifications/order_placed.rhai",
        "fn render(ctx) { #{ email: #{ subject: \"Hi\" } } }",
    );
    let host = ScriptHost::load(Some(dir.path())).unwrap();
    let err = host.render("order_placed", &ctx()).unwrap_err();
    assert!(matches!(err, ScriptError::BadReturn { .. }), "{err:?}");
    assert!(err.to_string().contains("email.text"), "{err}");
    assert!(matches!(
        host.render("no_such_event", &ctx()),
        Err(ScriptError::NotFound { .. })
    ));
}

#[test]
fn top_level_code_is_never_run() {
    let dir = folder();
    write(
        dir.path(),
        "notifications/order_placed.rhai",
        "throw \"top level ran\";\nfn render(ctx) { #{ sms: \"ok\" } }",
    );
    let host = ScriptHost::load(Some(dir.path())).unwrap();
    let r = host.render("order_placed", &ctx()).unwrap().unwrap();
    assert_eq!(r.sms.as_deref(), Some("ok"));
}

fn timed_render(host: &ScriptHost) -> (ScriptError, Duration) {
    let started = Instant::now();
    let err = host.render("order_placed", &ctx()).unwrap_err();
    (err, started.elapsed())
}

#[test]
fn an_endless_loop_is_stopped_within_the_budget() {
    let dir = folder();
    write(
        dir.path(),
        "notifications/order_placed.rhai",
        "fn render(ctx) { let n = 0; loop { n += 1; } }",
    );
    let host = ScriptHost::load(Some(dir.path())).unwrap();
    let (err, took) = timed_render(&host);
    assert!(took < Duration::from_millis(100), "took {took:?}");
    let shown = err.to_string();
    assert!(
        shown.contains("operations") || shown.contains("time limit"),
        "{shown}"
    );
    assert!(shown.contains("render()"), "{shown}");
}

#[test]
fn the_wall_clock_deadline_stops_a_slow_script() {
    let dir = folder();
    write(
        dir.path(),
        "notifications/order_placed.rhai",
        "fn render(ctx) { loop { } }",
    );
    let limits = Limits {
        max_operations: u64::MAX,
        deadline: Duration::from_millis(30),
        ..Limits::default()
    };
    let host = ScriptHost::load_with_limits(Some(dir.path()), limits).unwrap();
    let (err, took) = timed_render(&host);
    assert!(took < Duration::from_millis(100), "took {took:?}");
    assert!(err.to_string().contains("stopped after 30 ms"), "{err}");
}

#[test]
fn a_huge_string_is_stopped_within_the_budget() {
    let dir = folder();
    write(
        dir.path(),
        "notifications/order_placed.rhai",
        "fn render(ctx) { let s = \"x\"; loop { s += s; } }",
    );
    let host = ScriptHost::load(Some(dir.path())).unwrap();
    let (err, took) = timed_render(&host);
    assert!(took < Duration::from_millis(100), "took {took:?}");
    assert!(err.to_string().contains("larger than allowed"), "{err}");
}

#[test]
fn deep_recursion_and_huge_arrays_are_stopped() {
    let dir = folder();
    write(
        dir.path(),
        "notifications/order_placed.rhai",
        "fn render(ctx) { down(0) }\nfn down(n) { down(n + 1) }",
    );
    write(
        dir.path(),
        "notifications/order_placed_store.rhai",
        "fn render(ctx) { let a = []; a.pad(1000000, 0); a }",
    );
    let host = ScriptHost::load(Some(dir.path())).unwrap();
    let err = host.render("order_placed", &ctx()).unwrap_err();
    assert!(err.to_string().contains("levels deep"), "{err}");
    let err = host.render("order_placed_store", &ctx()).unwrap_err();
    assert!(err.to_string().contains("larger than allowed"), "{err}");
}

#[test]
fn reload_keeps_the_old_scripts_when_a_new_one_fails() {
    let dir = folder();
    write(
        dir.path(),
        "notifications/order_placed.rhai",
        "fn render(ctx) { #{ sms: \"v1\" } }",
    );
    let registry = ScriptRegistry::load(Some(dir.path())).unwrap();
    let before = registry.current();
    write(
        dir.path(),
        "notifications/order_placed.rhai",
        "fn render(ctx) { #{ sms: \"v2\" }",
    );
    let errors = registry.reload(Some(dir.path())).unwrap_err();
    assert!(matches!(errors[0], ScriptError::Compile { .. }));
    let sms = |h: &ScriptHost| h.render("order_placed", &ctx()).unwrap().unwrap().sms;
    assert_eq!(sms(&registry.current()).as_deref(), Some("v1"));
    write(
        dir.path(),
        "notifications/order_placed.rhai",
        "fn render(ctx) { #{ sms: \"v2\" } }",
    );
    registry.reload(Some(dir.path())).unwrap();
    assert_eq!(sms(&registry.current()).as_deref(), Some("v2"));
    // A caller still holding the old host keeps using it undisturbed.
    assert_eq!(sms(&before).as_deref(), Some("v1"));
}

#[test]
fn a_failing_carrier_becomes_a_declined_entry() {
    let dir = folder();
    write(
        dir.path(),
        "carriers/flaky.rhai",
        r#"fn carrier() { #{name: "Flaky", services: [#{code: "x", name: "X"}]} }
fn rates(request) { let n = 0; loop { n += 1; } }
fn tracking_url(number) { "https://flaky.example/" + number }
fn label(request, service) { #{ tracking_number: "F1" } }"#,
    );
    write(
        dir.path(),
        "carriers/liar.rhai",
        r#"fn carrier() { #{name: "Liar", services: [#{code: "x", name: "X"}]} }
fn rates(request) { [#{service: "warp", price: 1, days: 1}] }
fn tracking_url(number) { "ftp://nope" }
fn label(request, service) { #{ tracking_number: "L1" } }"#,
    );
    let host = ScriptHost::load(Some(dir.path())).unwrap();
    let result = host.rates(&request());
    let flaky = result
        .declined
        .iter()
        .find(|d| d.carrier == "flaky")
        .unwrap();
    assert!(flaky.reason.contains("rates()"), "{}", flaky.reason);
    let liar = result
        .declined
        .iter()
        .find(|d| d.carrier == "liar")
        .unwrap();
    assert!(liar.reason.contains("\"warp\""), "{}", liar.reason);
    // The well-behaved default carriers still quote.
    assert!(result.rates.iter().any(|r| r.carrier == "national_post"));
    assert!(matches!(
        host.tracking_url("liar", "1"),
        Err(ScriptError::BadReturn { .. })
    ));
}

#[test]
fn export_writes_the_defaults_and_keeps_edits() {
    let dir = tempfile::tempdir().unwrap();
    let first = export_defaults(dir.path()).unwrap();
    assert_eq!(first.len(), DEFAULT_SCRIPTS.len() + 1);
    assert!(first.iter().all(|e| e.written));
    let edited = dir.path().join("notifications/order_placed.rhai");
    std::fs::write(&edited, "// mine\n").unwrap();
    let second = export_defaults(dir.path()).unwrap();
    assert!(second.iter().all(|e| !e.written));
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), "// mine\n");
    // The exported folder loads, every script from the folder.
    let host = ScriptHost::load(Some(dir.path())).unwrap();
    assert!(host
        .scripts()
        .iter()
        .all(|i| i.source == ScriptSource::Folder));
}

#[test]
fn the_host_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ScriptHost>();
    assert_send_sync::<ScriptRegistry>();
}
