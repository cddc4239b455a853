//! A stand-in for Grafana for the mutation self test: it answers in the documented response
//! shapes of `crates/grafana/tests/data`, each made to hold one fault the suite must report.
//! Not evidence that the suite passes on a real Grafana (none runs here).

/// What the stand-in for Grafana answers: the documented response shapes of
/// crates/grafana/tests/data, each made to hold one fault the suite must report.
fn grafana_answer(method: &str, path: &str, body: &str) -> (u16, String) {
    let data = |name: &str| {
        let file = carbon_config::workspace_root()
            .join("crates/grafana/tests/data")
            .join(name);
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    };
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    match (method, path) {
        // Its database is failing.
        ("GET", "/api/health") => (
            200,
            r#"{"commit":"8a5b1c2d3e","database":"failing","version":"12.3.1"}"#.into(),
        ),
        ("GET", "/api/datasources") => (200, data("datasources.json")),
        // The metrics datasource is healthy, the logs datasource cannot reach Loki.
        ("GET", "/api/datasources/uid/P4169E866C3094E38/health") => {
            (200, data("datasource_health_ok.json"))
        }
        ("GET", "/api/datasources/uid/P8E80F9AEF21F6940/health") => {
            (400, data("datasource_health_error.json"))
        }
        // Only "Platform Overview" exists.
        ("GET", "/api/search")
            if query.contains("Platform+Overview") || query.contains("Platform%20Overview") =>
        {
            (200, data("search.json"))
        }
        ("GET", "/api/search") => (200, "[]".into()),
        ("GET", "/api/dashboards/uid/platform-overview") => (200, data("dashboard.json")),
        // Data only for the plain metrics query (`up`); every panel's query returns nothing.
        ("POST", "/api/ds/query") => {
            let request: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let mut results = serde_json::Map::new();
            for q in request["queries"].as_array().into_iter().flatten() {
                let ref_id = q["refId"].as_str().unwrap_or("A").to_string();
                let frames = if q["expr"] == "up" {
                    serde_json::json!([{"schema": {"refId": ref_id, "fields": [
                        {"name": "Time", "type": "time"}, {"name": "Value", "type": "number"}]},
                        "data": {"values": [[1_795_750_000_000_u64], [1]]}}])
                } else {
                    serde_json::json!([{"schema": {"refId": ref_id, "fields": []}, "data": {"values": []}}])
                };
                results.insert(ref_id, serde_json::json!({"status": 200, "frames": frames}));
            }
            (200, serde_json::json!({"results": results}).to_string())
        }
        // HighMemoryUsage is in error (403 from its datasource).
        ("GET", "/api/prometheus/grafana/api/v1/rules") => (200, data("alert_rules.json")),
        _ => (404, r#"{"message":"Not found"}"#.into()),
    }
}

/// Serves [`grafana_answer`] on a loopback port, one request per connection.
pub fn grafana_stand_in() -> u16 {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let mut parts = line.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap_or_default().to_string(),
                    parts.next().unwrap_or_default().to_string(),
                );
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = header.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let (status, answer) =
                    grafana_answer(&method, &path, &String::from_utf8_lossy(&body));
                let _ = (&stream).write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                        answer.len()
                    )
                    .as_bytes(),
                );
            });
        }
    });
    port
}
