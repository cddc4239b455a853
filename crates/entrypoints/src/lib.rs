//! The platform's public entry points (`[entrypoints] urls`), reached as a browser reaches
//! them: `GET`, redirects followed (reqwest's default, at most 10), judged by the last answer's
//! status (`[entrypoints] accept_status`, default 200). No credentials are sent: an entry point
//! is what a user opens first, before any login.
//!
//! Spoken: nothing but `GET` of each URL. The body is read only for a failure's excerpt.

mod declare;

use std::time::{Duration, Instant};

use carbon_config::{ConfigError, EntryPointsConfig, Target};
use carbon_core::http::{HttpClient, HttpError, redact_url};
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
        let mut up = Vec::new();
        let mut down = Vec::new();
        for result in self.fetch_all().await {
            match result {
                Ok(a) if self.is_up(&a) => up.push(a.summary()),
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
}
