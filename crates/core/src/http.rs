//! HTTP plumbing shared by the service clients: one error type that explains itself
//! (service, method, URL without secrets, status, body excerpt) and timeouts on every request.
//!
//! TLS: rustls with certificate verification always on, trusting the system's certificate
//! store (where platforms install their CAs; `SSL_CERT_FILE`/`SSL_CERT_DIR` point elsewhere),
//! the bundled webpki roots, and the PEM file a target names in `ca_file`. A certificate the
//! client rejects becomes [`HttpError::Certificate`], which says which setting fixes it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use url::Url;

/// How much of a response body an error keeps.
pub const BODY_EXCERPT_CHARS: usize = 600;

/// Query parameters whose values are credentials or signatures.
const SECRET_PARAMS: [&str; 7] = [
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "token",
    "password",
    "secret",
    "access_token",
];

/// A request as it may be shown: method and URL with credentials removed.
#[derive(Debug, Clone)]
pub struct RequestLine {
    /// The HTTP method.
    pub method: Method,
    /// The URL, redacted.
    pub url: String,
}

impl fmt::Display for RequestLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.url)
    }
}

/// The server's certificate (DER) of the connection `response` came over; `None` over plain
/// HTTP.
pub fn peer_certificate(response: &Response) -> Option<Vec<u8>> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .map(<[u8]>::to_vec)
}

/// Removes user info and secret query values from a URL.
pub fn redact_url(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let secret = SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str());
                (
                    k.into_owned(),
                    if secret {
                        "***".to_string()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// `url` as a base to join relative paths onto: its path ends with `/` (`http://h/superset` →
/// `http://h/superset/`, so joining `api/v1/x` keeps `superset/`).
pub fn base_url(url: &Url) -> Url {
    let mut u = url.clone();
    if !u.path().ends_with('/') {
        let path = format!("{}/", u.path());
        u.set_path(&path);
    }
    u
}

/// The first [`BODY_EXCERPT_CHARS`] characters of a body, on one line.
pub fn excerpt(body: &str) -> String {
    let flat: String = body
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > BODY_EXCERPT_CHARS {
        format!(
            "{}… ({} bytes in all)",
            flat.chars().take(BODY_EXCERPT_CHARS).collect::<String>(),
            body.len()
        )
    } else if flat.is_empty() {
        "(empty body)".to_string()
    } else {
        flat
    }
}

/// A failed HTTP exchange with a service.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No response: the service refused, did not answer in time, or the connection broke.
    #[error("{service}: {request}: {detail}")]
    Transport {
        /// The service's name.
        service: &'static str,
        /// What was sent.
        request: RequestLine,
        /// What went wrong, e.g. `cannot connect: Connection refused (os error 111)`.
        detail: String,
        /// Whether the request timed out.
        timed_out: bool,
    },
    /// The service answered with a status the caller did not accept.
    #[error("{service}: {request}: HTTP {status}: {body}")]
    Status {
        /// The service's name.
        service: &'static str,
        /// What was sent.
        request: RequestLine,
        /// The status code.
        status: reqwest::StatusCode,
        /// A body excerpt.
        body: String,
    },
    /// The service answered, but not with what the client can read.
    #[error("{service}: {request}: unreadable response ({message}): {body}")]
    Decode {
        /// The service's name.
        service: &'static str,
        /// What was sent.
        request: RequestLine,
        /// The parser's message.
        message: String,
        /// A body excerpt.
        body: String,
    },
    /// The TLS handshake failed on the server's certificate.
    #[error("{service}: {request}: TLS: the server's certificate was rejected ({detail}): {}", problem.advice(service))]
    Certificate {
        /// The service's name.
        service: &'static str,
        /// What was sent.
        request: RequestLine,
        /// What is wrong with the certificate.
        problem: CertificateProblem,
        /// rustls's words, e.g. `invalid peer certificate: UnknownIssuer`.
        detail: String,
    },
    /// The client could not be built or the request could not be formed.
    #[error("{service}: {message}")]
    Setup {
        /// The service's name.
        service: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl HttpError {
    /// The status code, when the service answered.
    pub fn status(&self) -> Option<reqwest::StatusCode> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the request never got an answer (refused, reset, timed out, or a TLS handshake
    /// that failed on the certificate).
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            HttpError::Transport { .. } | HttpError::Certificate { .. }
        )
    }
}

/// The server's clock: a response's `Date` header (IMF-fixdate, always GMT) as unix seconds.
///
/// Ages of what a run created are measured on this clock, never on the client's and never by
/// assuming the server's time zone.
pub fn server_date(response: &Response) -> Option<i64> {
    parse_http_date(
        response
            .headers()
            .get(reqwest::header::DATE)?
            .to_str()
            .ok()?,
    )
}

/// Parses an IMF-fixdate such as `Fri, 27 Nov 2026 03:20:33 GMT` into unix seconds.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// One run's memory of services found unreachable, shared by every trial process of the run.
///
/// The harness points it at a directory of the run ([`breaker::enable`]); from then on a request
/// that gets no connection records `<service>@<host>_<port>` there at once, and a request that
/// gets no response at all (not even headers: a hang, whatever its method; or a read that breaks
/// off) counts a strike, the second of which records it. One slow answer is not a dead service;
/// two are. Every later request to a recorded service at that address, in any trial process of
/// the run, fails at once naming the first failure instead of waiting out its own timeout,
/// except inside [`breaker::attempting`]: a cleanup is always tried once, with a short deadline.
/// Without [`breaker::enable`] (the reaper, the stack, benches) nothing is recorded.
pub mod breaker {
    use std::future::Future;
    use std::time::Duration;

    use super::{OnceLock, Path, PathBuf};

    static DIR: OnceLock<PathBuf> = OnceLock::new();

    /// How long a cleanup's request may take when its service is recorded as unreachable.
    pub const CLEANUP_ATTEMPT: Duration = Duration::from_secs(2);

    /// Endpoints this process (one trial) saw something of: a set kept for the process's life.
    struct Seen(std::sync::Mutex<Vec<String>>);

    impl Seen {
        const fn new() -> Self {
            Self(std::sync::Mutex::new(Vec::new()))
        }

        fn note(&self, key: &str) {
            if let Ok(mut w) = self.0.lock()
                && !w.iter().any(|k| k == key)
            {
                w.push(key.to_string());
            }
        }

        fn holds(&self, key: &str) -> bool {
            self.0.lock().is_ok_and(|w| w.iter().any(|k| k == key))
        }
    }

    /// The endpoints this process sent a write to (or tried to: a write that timed out may
    /// have landed). A trial is one process, so this is what the trial may have created.
    static WROTE: Seen = Seen::new();

    /// The endpoints a request of this process (one trial) got no response from in time: its
    /// cleanup then waits briefly there, not a second full timeout.
    static TIMED_OUT: Seen = Seen::new();

    /// Notes that this process is sending a write to `key`.
    pub(super) fn note_write(key: &str) {
        WROTE.note(key);
    }

    /// Whether this process sent (or tried to send) a write to `key`.
    pub(super) fn wrote(key: &str) -> bool {
        WROTE.holds(key)
    }

    /// Notes that a request of this process to `key` got no response in time.
    pub(super) fn note_timeout(key: &str) {
        TIMED_OUT.note(key);
    }

    /// Whether a request of this process to `key` got no response in time.
    pub(super) fn timed_out_here(key: &str) -> bool {
        TIMED_OUT.holds(key)
    }

    tokio::task_local! {
        static ATTEMPT: Duration;
    }

    /// Runs `f` so that its requests are sent even to a recorded service, each within
    /// `deadline` there (a cleanup is always attempted: the service may be back, and what it
    /// could not remove is then named for the reaper). Services not recorded keep their timeouts.
    pub async fn attempting<F: Future>(deadline: Duration, f: F) -> F::Output {
        ATTEMPT.scope(deadline, f).await
    }

    /// The deadline of [`attempting`], when the current task runs inside it.
    pub(super) fn attempt_deadline() -> Option<Duration> {
        ATTEMPT.try_with(|d| *d).ok()
    }

    /// The record's name for `service` at `url`'s host and port.
    pub fn key(service: &str, url: &url::Url) -> String {
        let host: String = url
            .host_str()
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "{service}@{host}_{}",
            url.port_or_known_default().unwrap_or(0)
        )
    }

    /// Records and reads unreachable services under `dir` for the rest of this process.
    pub fn enable(dir: &Path) {
        let _ = std::fs::create_dir_all(dir);
        let _ = DIR.set(dir.to_path_buf());
    }

    /// The first failure recorded under `key` in this run, if any.
    pub fn tripped(key: &str) -> Option<String> {
        std::fs::read_to_string(DIR.get()?.join(key))
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// Records `failure` under `key`, unless a failure is recorded already (the first stays).
    pub fn trip(key: &str, failure: &str) {
        use std::io::Write as _;
        let Some(dir) = DIR.get() else { return };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join(key))
        {
            let _ = f.write_all(failure.as_bytes());
        }
    }

    /// Counts a strike against `key`: the first is remembered (`<key>.strike`, created
    /// atomically, so two processes cannot both be first), the second records the service with
    /// both failures.
    pub fn strike(key: &str, failure: &str) {
        use std::io::Write as _;
        let Some(dir) = DIR.get() else { return };
        let first = dir.join(format!("{key}.strike"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&first)
        {
            Ok(mut f) => {
                let _ = f.write_all(failure.as_bytes());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let earlier = std::fs::read_to_string(&first).unwrap_or_default();
                trip(key, &format!("{failure} (and before it: {earlier})"));
            }
            Err(_) => {}
        }
    }
}

/// Whether `e` (or an error it wraps) is one that waiting may mend: a request that timed out
/// or a 5xx answer. A refused connection, a service the breaker recorded, a 4xx or a decoding
/// error is not: waiting would only hide it.
pub fn is_transient(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(h) = err.downcast_ref::<HttpError>() {
            return match h {
                HttpError::Transport { timed_out, .. } => *timed_out,
                HttpError::Status { status, .. } => status.is_server_error(),
                _ => false,
            };
        }
        cur = err.source();
    }
    false
}

/// Why a server's certificate was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateProblem {
    /// Not signed by a trusted CA (rustls `UnknownIssuer`, or a CA certificate served as the
    /// server's own: `CaUsedAsEndEntity`, or a bad signature).
    Untrusted,
    /// Valid, but not for the host name in the URL.
    WrongName,
    /// Expired or not yet valid.
    OutOfDate,
    /// Anything else rustls refuses (revoked, bad encoding, wrong purpose).
    Other,
}

impl CertificateProblem {
    /// What to do about it, naming the target setting. `service` is the section name, or
    /// `<section>-<purpose>` for a section's auxiliary client.
    pub fn advice(self, service: &str) -> String {
        let section = service.split('-').next().unwrap_or(service);
        let ca_file = format!(
            "set `ca_file` in [{section}] (or in [target], for every service) to a PEM file holding the CA that signed it, or install that CA in this machine's certificate store"
        );
        match self {
            CertificateProblem::Untrusted => {
                format!("it is not signed by a CA this client trusts: {ca_file}")
            }
            CertificateProblem::WrongName => format!(
                "it does not name the host of the URL: use a host name the certificate names in [{section}]'s URL"
            ),
            CertificateProblem::OutOfDate => "it is expired or not yet valid: renew it on the server (or check this machine's clock)".to_string(),
            CertificateProblem::Other => format!("if a private CA issued it, {ca_file}"),
        }
    }

    fn of(e: &rustls::Error) -> Option<Self> {
        use rustls::CertificateError as C;
        let rustls::Error::InvalidCertificate(c) = e else {
            return None;
        };
        Some(match c {
            C::UnknownIssuer | C::BadSignature => CertificateProblem::Untrusted,
            C::NotValidForName | C::NotValidForNameContext { .. } => CertificateProblem::WrongName,
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => CertificateProblem::OutOfDate,
            // webpki's `CaUsedAsEndEntity` and `UnknownIssuer`-like errors arrive as `Other`.
            other if format!("{other:?}").contains("CaUsedAsEndEntity") => {
                CertificateProblem::Untrusted
            }
            _ => CertificateProblem::Other,
        })
    }
}

/// The rustls certificate error somewhere in `e`'s cause chain. rustls's error reaches reqwest
/// wrapped in `io::Error`s (two, with hyper-rustls), whose `source()` skips what they wrap, so
/// an `io::Error` is opened with `get_ref` instead.
fn certificate_problem(e: &(dyn std::error::Error + 'static)) -> Option<CertificateProblem> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return CertificateProblem::of(tls);
        }
        cur = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// A `reqwest` client with the target's timeouts, named after the service it talks to.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    service: &'static str,
    timeout: Duration,
}

/// Options for [`HttpClient::new`].
#[derive(Debug, Clone)]
pub struct ClientOptions<'a> {
    /// Limit for one request, connecting included.
    pub timeout: Duration,
    /// A PEM file with extra CA certificates to trust (TLS verification stays on).
    pub ca_file: Option<&'a Path>,
}

impl HttpClient {
    /// Builds a client for `service`.
    ///
    /// # Errors
    /// [`HttpError::Setup`] when the CA file cannot be read or the TLS stack cannot start.
    pub fn new(service: &'static str, options: ClientOptions<'_>) -> Result<Self, HttpError> {
        let setup = |message: String| HttpError::Setup { service, message };
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("carbon-e2e/", env!("CARGO_PKG_VERSION")))
            // Each response over TLS keeps the server's certificate (a few hundred bytes) for
            // the checks that judge it ([`peer_certificate`]).
            .tls_info(true);
        if let Some(ca) = options.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| setup(format!("failed to read CA file {}: {e}", ca.display())))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| setup(format!("invalid CA file {}: {e}", ca.display())))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let inner = builder
            .build()
            .map_err(|e| setup(format!("failed to build HTTP client: {e}")))?;
        Ok(Self {
            inner,
            service,
            timeout: options.timeout,
        })
    }

    /// The service this client talks to.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The limit of one request (a request may set a longer one of its own).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Starts a request.
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.inner.request(method, url)
    }

    /// Sends a request and returns the response whatever its status.
    ///
    /// # Errors
    /// [`HttpError::Transport`] when no response arrives.
    pub async fn send_any(
        &self,
        request: RequestBuilder,
    ) -> Result<(RequestLine, Response), HttpError> {
        let mut request = request.build().map_err(|e| HttpError::Setup {
            service: self.service,
            message: format!("invalid request: {}", chain(&e)),
        })?;
        let line = RequestLine {
            method: request.method().clone(),
            url: redact_url(request.url()),
        };
        let endpoint = breaker::key(self.service, request.url());
        let attempt = breaker::attempt_deadline();
        let tripped = breaker::tripped(&endpoint);
        let write = !matches!(line.method, Method::GET | Method::HEAD);
        // A cleanup's request to a service recorded as down, or that already left a request
        // of this trial without a response: sent only where the trial wrote, and briefly.
        let suspect = match (&tripped, attempt) {
            (Some(first), Some(_)) => Some(first.clone()),
            (None, Some(_)) if breaker::timed_out_here(&endpoint) => {
                Some("a request of this trial got no response in time".to_string())
            }
            _ => None,
        };
        if let Some(first) = &suspect
            && !breaker::wrote(&endpoint)
        {
            // A cleanup of a trial that never sent this service a write: nothing of the
            // trial's can be there, so it is not worth a wait on a service recorded as down.
            return Err(HttpError::Transport {
                service: self.service,
                request: line,
                detail: format!(
                    "not sent: {} did not answer earlier in this run and this trial sent it \
                     no write, so it holds nothing of the trial's (first failure: {first})",
                    self.service
                ),
                timed_out: false,
            });
        }
        if let (Some(_), Some(deadline)) = (&suspect, attempt) {
            // A cleanup is attempted once even so, briefly.
            let limit = request
                .timeout()
                .copied()
                .unwrap_or(self.timeout)
                .min(deadline);
            *request.timeout_mut() = Some(limit);
        } else if let Some(first) = tripped {
            return Err(HttpError::Transport {
                service: self.service,
                request: line,
                detail: format!(
                    "not sent: {} was found unreachable earlier in this run, so its trials fail \
                     at once (first failure: {first})",
                    self.service
                ),
                timed_out: false,
            });
        }
        if write {
            breaker::note_write(&endpoint);
        }
        match self.inner.execute(request).await {
            Ok(response) => Ok((line, response)),
            // A certificate problem is a setting to fix, not an unreachable service.
            Err(e) => Err(match certificate_problem(&e) {
                Some(problem) => HttpError::Certificate {
                    service: self.service,
                    detail: chain_below(&e),
                    problem,
                    request: line,
                },
                None => {
                    let detail = transport_detail(&e);
                    // No connection at all: the service is down, recorded at once. No response
                    // at all within the timeout (`execute` returns at the headers), whatever the
                    // method, or a read that broke off: a strike; the second records it. A
                    // cleanup's attempt records nothing.
                    let read = matches!(line.method, Method::GET | Method::HEAD);
                    let failure = format!("{line}: {detail}");
                    if e.is_timeout() && attempt.is_none() {
                        breaker::note_timeout(&endpoint);
                    }
                    if attempt.is_none() && e.is_connect() {
                        breaker::trip(&endpoint, &failure);
                    } else if attempt.is_none() && (e.is_timeout() || read) {
                        breaker::strike(&endpoint, &failure);
                    }
                    HttpError::Transport {
                        service: self.service,
                        detail,
                        timed_out: e.is_timeout(),
                        request: line,
                    }
                }
            }),
        }
    }

    /// Sends a request and accepts only a 2xx answer.
    ///
    /// # Errors
    /// [`HttpError::Transport`], or [`HttpError::Status`] with a body excerpt.
    pub async fn send(
        &self,
        request: RequestBuilder,
    ) -> Result<(RequestLine, Response), HttpError> {
        let (line, response) = self.send_any(request).await?;
        if response.status().is_success() {
            Ok((line, response))
        } else {
            Err(self.status_error(line, response).await)
        }
    }

    /// Sends a request, accepts only 2xx, and returns the body as text.
    ///
    /// # Errors
    /// As [`Self::send`], and [`HttpError::Transport`] when the body breaks off.
    pub async fn text(&self, request: RequestBuilder) -> Result<(RequestLine, String), HttpError> {
        let (line, response) = self.send(request).await?;
        let body = self.body(&line, response).await?;
        Ok((line, body))
    }

    /// Sends a request, accepts only 2xx, and parses the body as JSON.
    ///
    /// # Errors
    /// As [`Self::text`], and [`HttpError::Decode`] when the body is not the expected JSON.
    pub async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, HttpError> {
        let (line, body) = self.text(request).await?;
        self.decode(&line, &body)
    }

    /// Parses a JSON body, or explains why not.
    ///
    /// # Errors
    /// [`HttpError::Decode`] with the parser's message and a body excerpt.
    pub fn decode<T: DeserializeOwned>(
        &self,
        line: &RequestLine,
        body: &str,
    ) -> Result<T, HttpError> {
        serde_json::from_str(body).map_err(|e| HttpError::Decode {
            service: self.service,
            request: line.clone(),
            message: e.to_string(),
            body: excerpt(body),
        })
    }

    /// Reads a whole body.
    ///
    /// # Errors
    /// [`HttpError::Transport`] when the body breaks off or times out.
    pub async fn body(&self, line: &RequestLine, response: Response) -> Result<String, HttpError> {
        response.text().await.map_err(|e| HttpError::Transport {
            service: self.service,
            request: line.clone(),
            detail: format!("reading the body: {}", transport_detail(&e)),
            timed_out: e.is_timeout(),
        })
    }

    /// Reads a whole body as bytes.
    ///
    /// # Errors
    /// [`HttpError::Transport`] when the body breaks off or times out.
    pub async fn bytes(
        &self,
        line: &RequestLine,
        response: Response,
    ) -> Result<Vec<u8>, HttpError> {
        response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| HttpError::Transport {
                service: self.service,
                request: line.clone(),
                detail: format!("reading the body: {}", transport_detail(&e)),
                timed_out: e.is_timeout(),
            })
    }

    /// Turns a non-accepted response into [`HttpError::Status`] with a body excerpt.
    pub async fn status_error(&self, request: RequestLine, response: Response) -> HttpError {
        let status = response.status();
        let body = response
            .text()
            .await
            .map(|b| excerpt(&b))
            .unwrap_or_else(|e| format!("(body unreadable: {})", chain(&e)));
        HttpError::Status {
            service: self.service,
            request,
            status,
            body,
        }
    }
}

/// Describes a transport failure without reqwest's top line, which repeats the full URL
/// (and with it any signature in the query).
fn transport_detail(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else if e.is_request() {
        "request failed"
    } else {
        "HTTP error"
    };
    let causes = chain_below(e);
    if causes.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {causes}")
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let below = chain_below(e);
    if !below.is_empty() {
        out.push_str(": ");
        out.push_str(&below);
    }
    out
}

fn chain_below(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = e.source();
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod date_tests {
    #[test]
    fn http_dates_read_as_unix_seconds() {
        assert_eq!(
            super::parse_http_date("Fri, 27 Nov 2026 03:20:33 GMT"),
            Some(1_795_749_633)
        );
        assert_eq!(super::parse_http_date("27 Nov 2026"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_keeps_its_path_when_joined() {
        for (given, want) in [
            ("http://h:1", "http://h:1/"),
            ("http://h/superset", "http://h/superset/"),
            ("http://h/superset/", "http://h/superset/"),
        ] {
            let base = base_url(&Url::parse(given).unwrap());
            assert_eq!(base.as_str(), want);
            assert!(base.join("api/v1/x").unwrap().path().ends_with("/api/v1/x"));
        }
        let joined = base_url(&Url::parse("http://h/superset").unwrap())
            .join("health")
            .unwrap();
        assert_eq!(joined.path(), "/superset/health");
    }

    #[test]
    fn redaction_removes_signatures_and_passwords() {
        let url = Url::parse("http://user:pw@h/b/k?X-Amz-Credential=AKIA%2F20240101&X-Amz-Signature=abc&partNumber=2").unwrap();
        let shown = redact_url(&url);
        assert!(
            !shown.contains("AKIA") && !shown.contains("abc") && !shown.contains("pw@"),
            "{shown}"
        );
        assert!(shown.contains("partNumber=2"), "{shown}");
    }

    #[test]
    fn excerpt_is_bounded_and_single_line() {
        let long = "x\n".repeat(2000);
        let e = excerpt(&long);
        assert!(e.chars().count() < BODY_EXCERPT_CHARS + 40);
        assert!(!e.contains('\n'));
        assert_eq!(excerpt("  "), "(empty body)");
    }

    /// A one-connection server that answers every request with `reply` (or never, if `None`).
    fn serve(reply: Option<&'static [u8]>) -> Url {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/api", listener.local_addr().unwrap())).unwrap();
        std::thread::spawn(move || {
            if let Ok((mut conn, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                match reply {
                    Some(r) => {
                        let _ = conn.write_all(r);
                    }
                    // Hold the connection open without answering until the client gives up.
                    None => {
                        let _ = conn.read(&mut buf);
                    }
                }
            }
        });
        url
    }

    fn client(timeout_ms: u64) -> HttpClient {
        HttpClient::new(
            "demo",
            ClientOptions {
                timeout: Duration::from_millis(timeout_ms),
                ca_file: None,
            },
        )
        .unwrap()
    }

    #[tokio::test]
    async fn server_error_shows_status_and_body_excerpt() {
        let url = serve(Some(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 16\r\nConnection: close\r\n\r\nunder maintenance"));
        let c = client(2000);
        let err = c
            .send(c.request(Method::GET, url))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("HTTP 503 Service Unavailable: under maintenanc"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn garbage_answer_is_an_error_not_a_panic() {
        let url = serve(Some(b"this is not HTTP at all\r\n\r\n"));
        let c = client(2000);
        let err = c.send(c.request(Method::GET, url)).await.unwrap_err();
        assert!(err.is_transport(), "{err}");
    }

    /// On a service the breaker recorded, a cleanup is attempted only where the trial sent a
    /// write: a trial that wrote nothing there waits for nothing.
    #[tokio::test]
    async fn a_cleanup_waits_on_a_recorded_service_only_where_the_trial_wrote() {
        let dir = std::env::temp_dir().join(format!("carbon-breaker-{}", std::process::id()));
        breaker::enable(&dir);
        let c = client(1000);
        // Recorded as hung; this process never wrote to it.
        let hung = serve(None);
        breaker::trip(&breaker::key("demo", &hung), "GET /api: timed out");
        let t0 = std::time::Instant::now();
        let err = breaker::attempting(Duration::from_millis(800), async {
            c.send(c.request(Method::GET, hung)).await
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(
            t0.elapsed() < Duration::from_millis(300),
            "{:?}",
            t0.elapsed()
        );
        assert!(err.contains("sent it no write"), "{err}");
        // A write was tried there (it may have landed; the refused connection records the
        // service): its cleanup is attempted.
        let dead = Url::parse("http://127.0.0.1:9/api").unwrap();
        let _ = c.send(c.request(Method::PUT, dead.clone())).await;
        assert!(breaker::tripped(&breaker::key("demo", &dead)).is_some());
        let err = breaker::attempting(Duration::from_millis(800), async {
            c.send(c.request(Method::GET, dead)).await
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(!err.contains("not sent"), "attempted: {err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn hanging_server_times_out_within_the_limit() {
        let url = serve(None);
        let c = client(500);
        let t0 = std::time::Instant::now();
        let err = c.send(c.request(Method::GET, url)).await.unwrap_err();
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "took {:?}",
            t0.elapsed()
        );
        assert!(
            matches!(
                err,
                HttpError::Transport {
                    timed_out: true,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("timed out"), "{err}");
    }

    #[tokio::test]
    async fn non_json_body_is_reported_with_an_excerpt() {
        let url = serve(Some(
            b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\nConnection: close\r\n\r\n<html>hi</html>",
        ));
        let c = client(2000);
        let err = c
            .json::<serde_json::Value>(c.request(Method::GET, url))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unreadable response") && err.contains("<html>hi</html>"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn refused_connection_names_method_url_and_cause() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let client = HttpClient::new(
            "demo",
            ClientOptions {
                timeout: Duration::from_secs(2),
                ca_file: None,
            },
        )
        .unwrap();
        let url = Url::parse(&format!("http://127.0.0.1:{port}/health")).unwrap();
        let err = client
            .send(client.request(Method::GET, url))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "demo: GET http://127.0.0.1:{port}/health: cannot connect"
            )),
            "{err}"
        );
    }

    /// An HTTPS server on 127.0.0.1 with a certificate for `names` from a fresh private CA;
    /// answers one request per connection with 200. Returns its URL and the CA's PEM file.
    async fn tls_server(names: &[&str]) -> (Url, tempfile_path::Pem) {
        tls_server_with(names, false).await
    }

    /// As [`tls_server`]; with `serve_ca` the server presents the CA certificate itself (a
    /// common mistake: `CaUsedAsEndEntity` to a client that trusts that CA).
    async fn tls_server_with(names: &[&str], serve_ca: bool) -> (Url, tempfile_path::Pem) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::default();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.subject_alt_names = names
            .iter()
            .map(|n| rcgen::SanType::IpAddress(n.parse().unwrap_or([127, 0, 0, 1].into())))
            .collect();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca_cert, &ca_key)
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![if serve_ca { ca_cert.der() } else { cert.der() }.clone()],
            rustls::pki_types::PrivateKeyDer::try_from(
                if serve_ca { &ca_key } else { &key }.serialize_der(),
            )
            .unwrap(),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("https://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((conn, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(conn).await {
                        let mut buf = [0u8; 4096];
                        let _ = tls.read(&mut buf).await;
                        let _ = tls
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                            .await;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
        (url, tempfile_path::Pem::new(&ca_cert.pem()))
    }

    mod tempfile_path {
        /// A PEM file removed on drop.
        pub struct Pem(pub std::path::PathBuf);
        impl Pem {
            pub fn new(text: &str) -> Self {
                let path = std::env::temp_dir().join(format!(
                    "carbon-core-ca-{}-{:?}.pem",
                    std::process::id(),
                    std::thread::current().id()
                ));
                std::fs::write(&path, text).unwrap();
                Self(path)
            }
        }
        impl Drop for Pem {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn tls_client(ca_file: Option<&Path>) -> HttpClient {
        HttpClient::new(
            "minio-presigned",
            ClientOptions {
                timeout: Duration::from_secs(5),
                ca_file,
            },
        )
        .unwrap()
    }

    #[tokio::test]
    async fn untrusted_certificate_names_the_setting_and_ca_file_fixes_it() {
        let (url, ca) = tls_server(&["127.0.0.1"]).await;
        let c = tls_client(None);
        let err = c
            .send(c.request(Method::GET, url.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                HttpError::Certificate {
                    problem: CertificateProblem::Untrusted,
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("UnknownIssuer")
                && text.contains("`ca_file` in [minio]")
                && text.contains("[target]"),
            "{text}"
        );
        assert!(err.is_transport());
        let c = tls_client(Some(&ca.0));
        let (_, body) = c.text(c.request(Method::GET, url)).await.unwrap();
        assert_eq!(body, "ok");
    }

    #[tokio::test]
    async fn certificate_for_another_host_says_so() {
        let (url, ca) = tls_server(&["elsewhere.example"]).await;
        let c = tls_client(Some(&ca.0));
        let err = c.send(c.request(Method::GET, url)).await.unwrap_err();
        assert!(
            matches!(
                err,
                HttpError::Certificate {
                    problem: CertificateProblem::WrongName,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("does not name the host"), "{err}");
    }

    #[tokio::test]
    async fn ca_served_as_the_server_certificate_names_ca_file() {
        let (url, ca) = tls_server_with(&["127.0.0.1"], true).await;
        let c = tls_client(Some(&ca.0));
        let err = c.send(c.request(Method::GET, url)).await.unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                HttpError::Certificate {
                    problem: CertificateProblem::Untrusted,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            text.contains("CaUsedAsEndEntity") && text.contains("`ca_file` in [minio]"),
            "{text}"
        );
    }
}
