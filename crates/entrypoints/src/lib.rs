//! The platform's public entry points (`[entrypoints] urls`), reached as a browser reaches
//! them: `GET`, redirects followed (reqwest's default, at most 10), judged by the last answer's
//! status (`[entrypoints] accept_status`, default 200), and over `https://` by the certificate
//! it came with: valid for at least `[entrypoints] min_certificate_days` more (default 14). No
//! credentials are sent: an entry point is what a user opens first, before any login.
//!
//! Spoken: nothing but `GET` of each URL. The body is read only for a failure's excerpt.

mod declare;

use std::time::{Duration, Instant};

use carbon_config::{ConfigError, EntryPointsConfig, Target};
use carbon_core::http::{HttpClient, HttpError, peer_certificate, redact_url};
use reqwest::Method;
use url::Url;

/// Errors of the entry points client.
#[derive(Debug, thiserror::Error)]
pub enum EntryPointsError {
    /// No answer (connection refused, DNS, TLS, timeout), naming the URL.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The target does not configure the section.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// How one entry point answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The URL as configured.
    pub url: Url,
    /// The last answer's status.
    pub status: u16,
    /// Where the redirects ended (the URL itself when there were none).
    pub landed: Url,
    /// From the request to the last answer's headers.
    pub elapsed: Duration,
    /// The first bytes of the last answer's body when its status is not accepted.
    pub excerpt: Option<String>,
    /// The certificate the last answer came with (`None` over plain HTTP), or why it could
    /// not be read.
    pub certificate: Option<Result<Certificate, String>>,
}

/// A server certificate, as far as the check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Its subject, e.g. `CN=superset.example.com`.
    pub subject: String,
    /// When it stops being valid, in Unix seconds.
    pub not_after: i64,
}

impl Certificate {
    /// Reads a DER certificate.
    ///
    /// # Errors
    /// When it is not an X.509 certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("the server's certificate cannot be read: {e}"))?;
        Ok(Self {
            subject: cert.subject().to_string(),
            not_after: cert.validity().not_after.timestamp(),
        })
    }

    /// Whole days from `now` (Unix seconds) until it expires (negative once it has).
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }

    /// Its expiry as a date, `2027-03-01`.
    pub fn expiry(&self) -> String {
        time::OffsetDateTime::from_unix_timestamp(self.not_after)
            .map(|t| t.date().to_string())
            .unwrap_or_else(|_| format!("@{}", self.not_after))
    }
}

impl Answer {
    /// One line for the evidence: `https://x/ → 200 (0.012 s)`, with where a redirect led;
    /// user info and secret query values redacted.
    pub fn summary(&self) -> String {
        let landed = if self.landed == self.url {
            String::new()
        } else {
            format!(" at {}", redact_url(&self.landed))
        };
        format!(
            "{} → {}{landed} ({:.3} s)",
            redact_url(&self.url),
            self.status,
            self.elapsed.as_secs_f64()
        )
    }
}

/// A client for the configured entry points.
#[derive(Debug, Clone)]
pub struct EntryPointsClient {
    http: HttpClient,
    urls: Vec<Url>,
    accept: Vec<u16>,
    min_certificate_days: u64,
}

impl EntryPointsClient {
    /// The URLs, as configured.
    pub fn urls(&self) -> &[Url] {
        &self.urls
    }

    /// The statuses that count as up.
    pub fn accepted(&self) -> &[u16] {
        &self.accept
    }

    /// Whether `answer`'s status counts as up.
    pub fn is_up(&self, answer: &Answer) -> bool {
        self.accept.contains(&answer.status)
    }

    /// Fetches `url` once.
    ///
    /// # Errors
    /// [`EntryPointsError::Http`] when no answer arrives, naming the request.
    pub async fn fetch(&self, url: &Url) -> Result<Answer, EntryPointsError> {
        let start = Instant::now();
        let (line, response) = self
            .http
            .send_any(self.http.request(Method::GET, url.clone()))
            .await?;
        let elapsed = start.elapsed();
        let status = response.status().as_u16();
        let landed = response.url().clone();
        let certificate = peer_certificate(&response).map(|der| Certificate::from_der(&der));
        let excerpt = if self.accept.contains(&status) {
            None
        } else {
            // The client's own status error carries the body excerpt, scrubbed and cut.
            Some(self.http.status_error(line, response).await.to_string())
        };
        Ok(Answer {
            url: url.clone(),
            status,
            landed,
            elapsed,
            excerpt,
            certificate,
        })
    }

    /// Fetches every URL at once: one hung entry point costs one request timeout, not one
    /// per URL. Each result in the order of the configuration.
    pub async fn fetch_all(&self) -> Vec<Result<Answer, EntryPointsError>> {
        futures::future::join_all(self.urls.iter().map(|u| self.fetch(u))).await
    }

    /// Every entry point fetched, judged: the answers' summaries, or every one that is not up
    /// (no answer, or a status not accepted) beside the others.
    ///
    /// # Errors
    /// A message naming each entry point that is down, with its status and body excerpt or
    /// the transport error.
    pub async fn check(&self) -> Result<Vec<String>, String> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut up = Vec::new();
        let mut down = Vec::new();
        let mut https = 0;
        for result in self.fetch_all().await {
            match result {
                Ok(a) if self.is_up(&a) => {
                    let summary = a.summary();
                    https += usize::from(a.landed.scheme() == "https");
                    match self.certificate_problem(&a, now) {
                        Some(problem) => down.push(format!("{summary}, but {problem}")),
                        None => up.push(match &a.certificate {
                            Some(Ok(c)) => format!(
                                "{summary}, certificate valid until {} ({} days)",
                                c.expiry(),
                                c.days_left(now)
                            ),
                            _ => summary,
                        }),
                    }
                }
                Ok(a) => down.push(format!(
                    "{}, not one of {:?}: {}",
                    a.summary(),
                    self.accept,
                    a.excerpt.unwrap_or_default()
                )),
                Err(e) => down.push(e.to_string()),
            }
        }
        if down.is_empty() {
            if https == 0 {
                up.push(
                    "certificates: none checked (no entry point answered over https://)"
                        .to_string(),
                );
            }
            Ok(up)
        } else {
            Err(format!(
                "{} of {} entry point(s) not up: {}{}",
                down.len(),
                self.urls.len(),
                down.join("; "),
                if up.is_empty() {
                    String::new()
                } else {
                    format!("; up: {}", up.join("; "))
                }
            ))
        }
    }

    /// What is wrong with the certificate of an answer over `https://`, if anything: none
    /// seen, unreadable, or valid for fewer than `min_certificate_days` more days from `now`.
    pub fn certificate_problem(&self, answer: &Answer, now: i64) -> Option<String> {
        if answer.landed.scheme() != "https" {
            return None;
        }
        let host = answer.landed.host_str().unwrap_or_default();
        match &answer.certificate {
            None => Some(format!("no certificate came with the answer of {host}")),
            Some(Err(e)) => Some(format!("{host}: {e}")),
            Some(Ok(c)) => {
                let left = c.days_left(now);
                let min = i64::try_from(self.min_certificate_days).unwrap_or(i64::MAX);
                (left < min).then(|| {
                    format!(
                        "the certificate of {host} ({}) {} {} ({left} days; \
                         [entrypoints] min_certificate_days = {min})",
                        c.subject,
                        if left < 0 { "expired" } else { "expires" },
                        c.expiry()
                    )
                })
            }
        }
    }
}

impl carbon_config::FromTarget for EntryPointsClient {
    const SECTION: &'static str = "entrypoints";
    type Error = EntryPointsError;

    fn from_target(target: &Target) -> Result<Self, EntryPointsError> {
        let cfg: &EntryPointsConfig = target.section("entrypoints", &target.entrypoints)?;
        let http = target.http_client(carbon_config::Service::EntryPoints, cfg)?;
        Ok(Self {
            http,
            urls: cfg.urls.clone(),
            accept: cfg.accept_status.clone(),
            min_certificate_days: cfg.min_certificate_days,
        })
    }
}

impl carbon_core::failure::Classify for EntryPointsError {
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        match self {
            EntryPointsError::Http(e) => e.kind(),
            EntryPointsError::Config(e) => e.kind(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(url: &str, landed: &str, status: u16) -> Answer {
        Answer {
            url: Url::parse(url).unwrap(),
            status,
            landed: Url::parse(landed).unwrap(),
            elapsed: Duration::from_millis(12),
            excerpt: None,
            certificate: None,
        }
    }

    #[test]
    fn a_summary_says_where_the_redirects_led_and_hides_user_info() {
        assert_eq!(
            answer(
                "https://superset.example.com/",
                "https://superset.example.com/login/",
                200
            )
            .summary(),
            "https://superset.example.com/ → 200 at https://superset.example.com/login/ (0.012 s)"
        );
        assert_eq!(
            answer(
                "https://trino.example.com/ui/",
                "https://trino.example.com/ui/",
                503
            )
            .summary(),
            "https://trino.example.com/ui/ → 503 (0.012 s)"
        );
        let secret = answer(
            "https://me:hunter2@grafana.example.com/",
            "https://me:hunter2@grafana.example.com/login",
            200,
        )
        .summary();
        assert!(!secret.contains("hunter2"), "{secret}");
    }

    /// A certificate for `days` more days (negative: expired that long ago), as DER.
    fn certificate(days: i64) -> Vec<u8> {
        let now = time::OffsetDateTime::now_utc();
        let mut params =
            rcgen::CertificateParams::new(vec!["superset.example.com".into()]).expect("params");
        params.not_before = now - time::Duration::days(400);
        params.not_after = now + time::Duration::days(days) + time::Duration::hours(1);
        let key = rcgen::KeyPair::generate().expect("key");
        params.self_signed(&key).expect("cert").der().to_vec()
    }

    fn client(min_certificate_days: u64) -> EntryPointsClient {
        EntryPointsClient {
            http: HttpClient::new(
                "entrypoints",
                carbon_core::http::ClientOptions {
                    timeout: Duration::from_secs(1),
                    ca_file: None,
                },
            )
            .expect("client"),
            urls: Vec::new(),
            accept: vec![200],
            min_certificate_days,
        }
    }

    #[test]
    fn a_certificate_is_judged_by_the_days_it_has_left() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let over_https = |days: i64| Answer {
            certificate: Some(Certificate::from_der(&certificate(days))),
            ..answer(
                "https://superset.example.com/",
                "https://superset.example.com/login/",
                200,
            )
        };
        let c = client(14);
        assert_eq!(c.certificate_problem(&over_https(90), now), None);
        let soon = c
            .certificate_problem(&over_https(13), now)
            .expect("13 < 14 days");
        assert!(
            soon.contains("the certificate of superset.example.com")
                && soon.contains("expires")
                && soon.contains("(13 days; [entrypoints] min_certificate_days = 14)"),
            "{soon}"
        );
        let gone = c
            .certificate_problem(&over_https(-3), now)
            .expect("expired");
        assert!(
            gone.contains("expired") && gone.contains("(-3 days"),
            "{gone}"
        );
        let unreadable = Answer {
            certificate: Some(Certificate::from_der(b"not a certificate")),
            ..over_https(90)
        };
        assert!(
            c.certificate_problem(&unreadable, now)
                .is_some_and(|p| p.contains("cannot be read"))
        );
        let none = Answer {
            certificate: None,
            ..over_https(90)
        };
        assert!(c.certificate_problem(&none, now).is_some());
        // Plain http carries no certificate to judge.
        assert_eq!(
            c.certificate_problem(&answer("http://h/", "http://h/", 200), now),
            None
        );
    }
}
