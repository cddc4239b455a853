//! Self test: a read-only run of every suite sends no write, counted where the requests land.
//!
//! Every HTTP service of the local target is reached through a recording forwarder that parses
//! each request (method, path, body); the cluster is reached as `carbon-e2e-readonly`, the user
//! bound only to `kind-config/rbac/readonly.yaml`, and the API server's audit log (which the
//! stack keeps for that user alone) gives its verbs. The run must pass (or refuse what writes),
//! reach every service, and send nothing but reads. The reads that HTTP spells as something
//! else are allowed by name and printed: Trino's `POST /v1/statement` of a read-only statement
//! (Trino's protocol has no other way to run a query), cancelling the run's own statement,
//! DolphinScheduler's session login (the one write a read-only run makes with a password; a
//! token avoids it), and Superset's JWT login, connection test and chart queries (posted,
//! nothing stored); in the cluster, SelfSubjectReview/SelfSubjectAccessReview `create`s (asked,
//! never stored) and opening port-forwards. `reap` and `bench` on the same read-only target are
//! refused (exit 2, naming the mode) before they send anything.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One request a forwarder saw.
#[derive(Debug, Clone)]
struct Seen {
    service: &'static str,
    method: String,
    path: String,
    body: String,
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} {}", self.service, self.method, self.path)?;
        if !self.body.is_empty() {
            write!(f, " ({:.80})", self.body)?;
        }
        Ok(())
    }
}

/// Why a request that is not GET or HEAD is still a read, or `None` for a write.
fn read_by_name(r: &Seen) -> Option<&'static str> {
    let statement = r.body.trim_start().to_ascii_uppercase();
    let first = statement
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    let read_sql = ["SELECT", "SHOW", "DESCRIBE", "EXPLAIN", "VALUES", "WITH"].contains(&first);
    // A statement that starts with no SQL keyword at all cannot run, let alone write (the
    // syntax-error trial's `SELEC 1`); every statement that can change something starts with one.
    let sql_keyword = [
        "SELECT",
        "SHOW",
        "DESCRIBE",
        "EXPLAIN",
        "VALUES",
        "WITH",
        "INSERT",
        "UPDATE",
        "DELETE",
        "MERGE",
        "CREATE",
        "DROP",
        "ALTER",
        "TRUNCATE",
        "CALL",
        "GRANT",
        "REVOKE",
        "DENY",
        "SET",
        "RESET",
        "COMMENT",
        "REFRESH",
        "ANALYZE",
        "EXECUTE",
        "PREPARE",
        "DEALLOCATE",
        "START",
        "COMMIT",
        "ROLLBACK",
        "USE",
        "TABLE",
    ]
    .contains(&first);
    match (r.service, r.method.as_str()) {
        (_, "GET" | "HEAD") => Some("read"),
        ("trino", "POST") if r.path == "/v1/statement" && read_sql => {
            Some("Trino runs a read-only statement")
        }
        ("trino", "POST") if r.path == "/v1/statement" && !sql_keyword => {
            Some("Trino is sent a statement it cannot parse")
        }
        ("trino", "DELETE") if r.path.starts_with("/v1/statement/") => {
            Some("Trino: cancelling the run's own statement")
        }
        ("dolphinscheduler", "POST") if r.path == "/dolphinscheduler/login" => {
            Some("DolphinScheduler session login")
        }
        ("superset", "POST") if r.path == "/api/v1/security/login" => {
            Some("Superset login (a JWT, nothing stored)")
        }
        ("superset", "POST") if r.path == "/api/v1/database/test_connection/" => {
            Some("Superset tests a connection it is sent (nothing stored)")
        }
        ("superset", "POST") if r.path.starts_with("/api/v1/chart/data") => {
            Some("Superset runs a chart's query")
        }
        _ => None,
    }
}

/// Parses HTTP/1.1 requests out of a client's byte stream (Content-Length or chunked bodies).
#[derive(Default)]
struct Parser {
    buf: Vec<u8>,
}

impl Parser {
    fn feed(&mut self, bytes: &[u8], service: &'static str, out: &mut Vec<Seen>) {
        self.buf.extend_from_slice(bytes);
        while let Some(end) = find(&self.buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
            let mut lines = head.lines();
            let first = lines.next().unwrap_or_default();
            let mut parts = first.split(' ');
            let (method, path) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            let header = |name: &str| {
                head.lines().skip(1).find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
            };
            let start = end + 4;
            let (body, used) = if header("transfer-encoding").is_some_and(|v| v.contains("chunked"))
            {
                match dechunk(&self.buf[start..]) {
                    Some(x) => x,
                    None => return, // wait for more
                }
            } else {
                let len: usize = header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if self.buf.len() < start + len {
                    return;
                }
                (self.buf[start..start + len].to_vec(), len)
            };
            out.push(Seen {
                service,
                method: method.to_string(),
                path: path.split('?').next().unwrap_or_default().to_string(),
                body: String::from_utf8_lossy(&body[..body.len().min(200)]).to_string(),
            });
            self.buf.drain(..start + used);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A chunked body and the bytes it took, or `None` when incomplete.
fn dechunk(mut rest: &[u8]) -> Option<(Vec<u8>, usize)> {
    let total = rest.len();
    let mut body = Vec::new();
    loop {
        let line = find(rest, b"\r\n")?;
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&rest[..line])
                .split(';')
                .next()?
                .trim(),
            16,
        )
        .ok()?;
        rest = &rest[line + 2..];
        if size == 0 {
            let end = find(rest, b"\r\n")?;
            rest = &rest[end + 2..];
            return Some((body, total - rest.len()));
        }
        if rest.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// A forwarder to `upstream` on a free loopback port that records every request.
fn recording_forwarder(
    service: &'static str,
    upstream: String,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            while let Ok((client, _)) = listener.accept().await {
                let (seen, upstream) = (Arc::clone(&seen), upstream.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async move {
                        let mut parser = Parser::default();
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n) = cr.read(&mut buf).await {
                            if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            let mut found = Vec::new();
                            parser.feed(&buf[..n], service, &mut found);
                            seen.lock().expect("not poisoned").extend(found);
                        }
                    };
                    let down = async move {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
    });
    port
}

/// What the cluster's audit log holds for the read-only user since `from` (bytes into the
/// file): `(verb, resource, subresource)` with counts.
fn audited_since(log: &std::path::Path, from: u64) -> BTreeMap<(String, String), usize> {
    let text = std::fs::read(log).unwrap_or_default();
    let from = usize::try_from(from).unwrap_or(0).min(text.len());
    let mut out = BTreeMap::new();
    for line in String::from_utf8_lossy(&text[from..]).lines() {
        let Ok(ev) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if ev["user"]["username"] != "carbon-e2e-readonly" {
            continue;
        }
        let obj = &ev["objectRef"];
        let resource = match (obj["resource"].as_str(), obj["subresource"].as_str()) {
            (Some(r), Some(s)) => format!("{r}/{s}"),
            (Some(r), None) => r.to_string(),
            _ => ev["requestURI"].as_str().unwrap_or_default().to_string(),
        };
        *out.entry((
            ev["verb"].as_str().unwrap_or_default().to_string(),
            resource,
        ))
        .or_default() += 1;
    }
    out
}

/// Cluster requests that change nothing although their verb is not a read.
fn cluster_read_by_name(verb: &str, resource: &str) -> bool {
    matches!(verb, "get" | "list" | "watch")
        || (verb == "create"
            && matches!(
                resource,
                "selfsubjectreviews" | "selfsubjectaccessreviews" | "pods/portforward"
            ))
}

#[test]
fn a_read_only_run_of_every_suite_sends_no_write() {
    let env = carbon_config::Env::from_process();
    let stack = carbon_stack::Stack::open(&env).expect("the local stack's directory");
    let audit = carbon_stack::kube_audit_log(&stack);
    assert!(
        audit.exists(),
        "no audit log at {} (the stack's API server keeps one: carbon-e2e stack up)",
        audit.display()
    );
    let audit_from = std::fs::metadata(&audit).map(|m| m.len()).unwrap_or(0);

    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let services: [(&str, &str, &str, &str); 9] = [
        ("minio", "E2E_MINIO_ENDPOINT", "127.0.0.1:17070", ""),
        (
            "victoriametrics",
            "E2E_VICTORIAMETRICS_URL",
            "127.0.0.1:18428",
            "",
        ),
        ("trino", "E2E_TRINO_URL", "127.0.0.1:18080", ""),
        ("loki", "E2E_LOKI_URL", "127.0.0.1:13100", ""),
        ("vmalert", "E2E_VMALERT_URL", "127.0.0.1:18880", ""),
        (
            "dolphinscheduler",
            "E2E_DOLPHINSCHEDULER_URL",
            "127.0.0.1:12345",
            "/dolphinscheduler",
        ),
        ("superset", "E2E_SUPERSET_URL", "127.0.0.1:18088", ""),
        (
            "iceberg-rest",
            "E2E_TRINO_REST_CATALOG_URL",
            "127.0.0.1:18181",
            "",
        ),
        // A list of URLs: the one entry point, Superset's root, through its own forwarder.
        (
            "entrypoints",
            "E2E_ENTRYPOINTS_URLS",
            "127.0.0.1:18088",
            "/",
        ),
    ];
    // Every suite's trials; not the platform self test, which creates a node of its own.
    let mut cmd = common::nextest(
        "package(/^suite-/) & !(package(suite-platform) & binary(self_test))",
        &common::run_id("ro"),
    );
    cmd.env("E2E_STRICT", "1")
        .env("E2E_TARGET_MODE", "read-only")
        .env(
            "E2E_KUBERNETES_KUBECONFIG",
            carbon_stack::readonly_kubeconfig(&stack),
        );
    let mut pointed = Vec::new();
    for (service, var, upstream, path) in services {
        let port = recording_forwarder(service, upstream.to_string(), Arc::clone(&seen));
        let url = format!("http://127.0.0.1:{port}{path}");
        pointed.push((
            var,
            if var.ends_with("_URLS") {
                format!("[\"{url}\"]")
            } else {
                url
            },
        ));
    }
    cmd.envs(pointed.iter().map(|(k, v)| (*k, v.as_str())));
    let out = cmd.output().expect("cargo nextest runs");
    let text = common::console(&out);
    assert!(out.status.success(), "read-only run failed:\n{text}");
    // The reaper and the benches delete or write: refused, naming the mode, sending nothing.
    for verb in [&["reap"][..], &["bench", "--only", "unreachable"][..]] {
        let mut refused = common::carbon_e2e(verb);
        refused.env("E2E_TARGET_MODE", "read-only");
        for (var, value) in &pointed {
            refused.env(var, value);
        }
        let out = refused.output().expect("carbon-e2e runs");
        let said = common::console(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{verb:?} on a read-only target:\n{said}"
        );
        assert!(
            said.contains("refused") && said.contains("read-only"),
            "{verb:?} must say why it refused:\n{said}"
        );
    }

    let requests = seen.lock().expect("not poisoned").clone();
    let mut by_service: BTreeMap<&str, usize> = BTreeMap::new();
    let mut named: BTreeMap<String, usize> = BTreeMap::new();
    let mut writes = Vec::new();
    for r in &requests {
        *by_service.entry(r.service).or_default() += 1;
        match read_by_name(r) {
            Some("read") => {}
            Some(why) => *named.entry(why.to_string()).or_default() += 1,
            None => writes.push(r.to_string()),
        }
    }
    let cluster = audited_since(&audit, audit_from);
    let cluster_writes: Vec<String> = cluster
        .iter()
        .filter(|((verb, resource), _)| !cluster_read_by_name(verb, resource))
        .map(|((verb, resource), n)| format!("{verb} {resource} ×{n}"))
        .collect();
    println!("requests per service: {by_service:?}");
    println!("reads by name: {named:?}");
    println!("cluster requests as carbon-e2e-readonly: {cluster:?}");
    println!(
        "writes: {} to the services, {} to the cluster",
        writes.len(),
        cluster_writes.len()
    );
    for (service, ..) in services {
        assert!(
            by_service.get(service).copied().unwrap_or(0) > 0,
            "the read-only run never reached {service}: {by_service:?}\n{text}"
        );
    }
    assert!(
        cluster.keys().any(|(verb, _)| verb == "list"),
        "the read-only run never read the cluster as carbon-e2e-readonly: {cluster:?}"
    );
    assert!(
        writes.is_empty(),
        "writes reached the services: {writes:#?}"
    );
    assert!(
        cluster_writes.is_empty(),
        "writes reached the cluster: {cluster_writes:?}"
    );
}

#[test]
fn the_parser_reads_length_and_chunked_bodies_across_reads() {
    let mut p = Parser::default();
    let mut out = Vec::new();
    let req = b"POST /v1/statement HTTP/1.1\r\nhost: x\r\ncontent-length: 8\r\n\r\nSELECT 1GET /v1/info HTTP/1.1\r\n\r\n";
    p.feed(&req[..50], "trino", &mut out);
    p.feed(&req[50..], "trino", &mut out);
    let chunked = b"PUT /b/k HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    p.feed(chunked, "minio", &mut out);
    let shown: Vec<String> = out.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "trino: POST /v1/statement (SELECT 1)",
            "trino: GET /v1/info",
            "minio: PUT /b/k (abc)"
        ]
    );
    assert_eq!(
        read_by_name(&out[0]),
        Some("Trino runs a read-only statement")
    );
    assert_eq!(read_by_name(&out[2]), None);
    let sql = |body: &str| Seen {
        service: "trino",
        method: "POST".into(),
        path: "/v1/statement".into(),
        body: body.into(),
    };
    assert_eq!(
        read_by_name(&sql("SELEC 1")),
        Some("Trino is sent a statement it cannot parse")
    );
    assert_eq!(read_by_name(&sql("  insert into t values (1)")), None);
    assert_eq!(read_by_name(&sql("DROP SCHEMA x")), None);
}
