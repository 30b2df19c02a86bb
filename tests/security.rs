//! Every registered route refuses an anonymous request: pages send the visitor to the login page
//! (or refuse the form), the API answers 401. Page routes are read from the source and API
//! routes from the OpenAPI document, so a route added later is covered without touching this
//! test.

mod common;

use common::*;

/// (method, path) of every `route("…", web::METHOD()…)` in the given files.
fn routes_in(files: &[std::path::PathBuf]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in files {
        let src = std::fs::read_to_string(f).unwrap();
        let mut rest = src.as_str();
        while let Some(i) = rest.find("route(") {
            rest = &rest[i + "route(".len()..];
            let t = rest.trim_start();
            let Some(t) = t.strip_prefix('"') else {
                continue;
            };
            let Some(end) = t.find('"') else { continue };
            let path = &t[..end];
            let after = &t[end..];
            let Some(w) = after.find("web::") else {
                continue;
            };
            let method: String = after[w + 5..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.push((method, path.to_string()));
            }
        }
    }
    out
}

fn rs_files(dir: &str) -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    files
}

fn fill(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').map(|e| i + e).unwrap();
        let name = &rest[i + 1..end];
        out.push_str(match name {
            "n" => "1001",
            "action" => "payment",
            "carrier" => "national_post",
            _ => "01a218f0-b9ce-74a8-a7ff-07f955654225",
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_route_refuses_anonymous_requests() {
    let app = spawn_app_with_token();
    app.place(order_body("Ann", "ann@example.com")).await;
    let anon = client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let pages = routes_in(&rs_files("src/web/pages"));
    assert!(pages.len() > 20, "found only {} page routes", pages.len());
    let open = [
        "/login",
        "/setup",
        "/static/app.css",
        "/static/label.css",
        "/static/print.css",
        "/static/app.js",
    ];
    let mut checked = 0;
    for (method, path) in &pages {
        if open.contains(&path.as_str()) {
            continue;
        }
        let url = format!("{}{}", app.base, fill(path));
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = anon
            .request(m, &url)
            .form(&[("csrf", "x")])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or("")
            .to_string();
        let to_login = (300..400).contains(&status) && location.starts_with("/login");
        assert!(
            to_login || status == 401 || status == 403,
            "{method} {path} answered {status} {location} to an anonymous visitor"
        );
        if method == "get" {
            assert!(
                to_login,
                "GET {path} should send an anonymous visitor to login, got {status}"
            );
        }
        checked += 1;
    }
    // The API's routes from its OpenAPI document (a unit test keeps the document and the route
    // table in step); the document itself is the one public route.
    let doc = common::openapi::document(&app.client, &app.base).await;
    let mut api = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["security"] == serde_json::json!([{}]) {
                assert_eq!(
                    path, "/openapi.json",
                    "{method} {path} is documented as public"
                );
                continue;
            }
            api.push((method.clone(), path.clone()));
        }
    }
    assert!(api.len() >= 25, "found only {} API routes", api.len());
    for (method, path) in &api {
        let url = format!("{}/api/v1{}", app.base, fill(path));
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = anon.request(m, &url).body("{}").send().await.unwrap();
        assert_eq!(
            r.status().as_u16(),
            401,
            "{method} /api/v1{path} without a token"
        );
        // A session cookie is never accepted in place of a token.
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = anon
            .request(m, &url)
            .header("Cookie", "od_session=anything")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            401,
            "{method} /api/v1{path} with a cookie"
        );
        checked += 1;
    }
    assert!(checked > 40);
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = spawn_app_with_token();
    let anon = client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // With no account yet, /login sends the visitor to the setup page: check both answers.
    let r = anon
        .get(format!("{}/orders", app.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    let h = r.headers();
    let csp = h
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(csp.contains("default-src"), "CSP: {csp:?}");
    assert!(csp.contains("frame-ancestors 'none'") || h.get("x-frame-options").is_some());
    assert_eq!(
        h.get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert!(h.get("referrer-policy").is_some());
}
