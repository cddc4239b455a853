//! The Iceberg REST catalog Trino's Iceberg catalog uses (`[trino] rest_catalog_url`), spoken
//! through the two calls of the Iceberg REST protocol every implementation serves:
//! `GET /v1/config` (the catalog's settings, among them the path `prefix` the other routes
//! take) and `GET /v1/{prefix}/namespaces` (paged with `pageToken`). Reads only.
//!
//! The protocol has no version endpoint; [`RestCatalogClient::server`] reports the `Server`
//! header of the config answer (`Jetty(11.0.25)` for Iceberg's own server), which is what
//! there is to say about the implementation.

use std::collections::BTreeMap;

use carbon_config::{ConfigError, Secret, Target};
use carbon_core::http::HttpClient;
use reqwest::Method;
use serde::Deserialize;
use url::Url;

use crate::TrinoError;

/// A client of the Iceberg REST catalog.
#[derive(Debug, Clone)]
pub struct RestCatalogClient {
    http: HttpClient,
    base: Url,
    token: Option<Secret>,
    warehouse: Option<String>,
}

/// `GET /v1/config`: settings the catalog gives its clients.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CatalogConfig {
    /// Settings a client may override.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// Settings that override the client's.
    #[serde(default)]
    pub overrides: BTreeMap<String, String>,
    /// The routes the server implements (newer servers list them).
    #[serde(default)]
    pub endpoints: Option<Vec<String>>,
}

impl CatalogConfig {
    /// The path prefix of the catalog's routes (`overrides` win over `defaults`), if any.
    pub fn prefix(&self) -> Option<&str> {
        self.overrides
            .get("prefix")
            .or_else(|| self.defaults.get("prefix"))
            .map(String::as_str)
            .filter(|p| !p.is_empty())
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct NamespacePage {
    namespaces: Vec<Vec<String>>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// At most this many pages of namespaces are read (a server that pages forever is an error).
const MAX_PAGES: usize = 1000;

impl RestCatalogClient {
    /// A client of the catalog at `base` (its URL without `/v1`) over `http` (made by
    /// [`Target::http_client`] from a target).
    pub fn new(
        base: Url,
        token: Option<Secret>,
        warehouse: Option<String>,
        http: HttpClient,
    ) -> Self {
        let base = carbon_core::http::base_url(&base);
        Self {
            http,
            base,
            token,
            warehouse,
        }
    }

    /// The catalog's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Result<Url, TrinoError> {
        self.base
            .join(path)
            .map_err(|e| TrinoError::Url(format!("{}{path}: {e}", self.base)))
    }

    fn request(&self, url: Url) -> reqwest::RequestBuilder {
        let r = self.http.request(Method::GET, url);
        match &self.token {
            Some(t) => r.bearer_auth(t.expose()),
            None => r,
        }
    }

    /// `GET /v1/config` (with `?warehouse=` when one is configured), and the answer's `Server`
    /// header.
    ///
    /// # Errors
    /// [`TrinoError::Http`] naming the request, status and body excerpt.
    pub async fn config(&self) -> Result<(CatalogConfig, Option<String>), TrinoError> {
        let mut url = self.url("v1/config")?;
        if let Some(w) = &self.warehouse {
            url.query_pairs_mut().append_pair("warehouse", w);
        }
        let (line, response) = self.http.send(self.request(url)).await?;
        let server = response
            .headers()
            .get(reqwest::header::SERVER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        let body = self.http.body(&line, response).await?;
        Ok((self.http.decode(&line, &body)?, server))
    }

    /// Every namespace of the catalog, top level (each a dotted name), following pages.
    ///
    /// # Errors
    /// [`TrinoError::Http`] naming the request, status and body excerpt.
    pub async fn namespaces(&self, config: &CatalogConfig) -> Result<Vec<String>, TrinoError> {
        let path = match config.prefix() {
            Some(p) => format!("v1/{}/namespaces", p.trim_matches('/')),
            None => "v1/namespaces".to_string(),
        };
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = self.url(&path)?;
            if let Some(t) = &token {
                url.query_pairs_mut().append_pair("pageToken", t);
            }
            let page: NamespacePage = self.http.json(self.request(url)).await?;
            out.extend(page.namespaces.into_iter().map(|n| n.join(".")));
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
        Err(TrinoError::Url(format!(
            "{}: more than {MAX_PAGES} pages of namespaces",
            self.base
        )))
    }
}

impl carbon_config::FromTarget for RestCatalogClient {
    const SECTION: &'static str = "trino";
    type Error = TrinoError;

    fn from_target(target: &Target) -> Result<Self, TrinoError> {
        let cfg = target.section("trino", &target.trino)?;
        let Some(url) = &cfg.rest_catalog_url else {
            return Err(ConfigError::Invalid {
                target: target.name.clone(),
                key: "trino.rest_catalog_url".into(),
                message: "not set: no Iceberg REST catalog to check".into(),
            }
            .into());
        };
        let token = cfg
            .rest_catalog_token_env
            .as_deref()
            .map(|var| target.credential("trino", var))
            .transpose()?;
        let http = target.http_client(carbon_config::Service::IcebergRestCatalog, cfg)?;
        Ok(Self::new(
            url.clone(),
            token,
            cfg.rest_catalog_warehouse.clone(),
            http,
        ))
    }
}

#[cfg(test)]
mod tests {
    //! Parsing only, on the answers of Iceberg 1.10.0's REST catalog server (the local stack's);
    //! the client is verified against that real server by the `trino` suite.
    use super::*;

    #[test]
    fn config_without_prefix_and_with_one() {
        let c: CatalogConfig = serde_json::from_str(
            r#"{"defaults":{},"overrides":{},"endpoints":["GET /v1/{prefix}/namespaces"]}"#,
        )
        .expect("json");
        assert_eq!(c.prefix(), None);
        let c: CatalogConfig = serde_json::from_str(
            r#"{"defaults":{"prefix":"ignored"},"overrides":{"prefix":"wh-1"}}"#,
        )
        .expect("json");
        assert_eq!(c.prefix(), Some("wh-1"));
    }

    #[test]
    fn namespace_pages_join_levels_and_carry_the_token() {
        let p: NamespacePage = serde_json::from_str(
            r#"{"namespaces":[["lakehouse"],["a","b"]],"next-page-token":"t2"}"#,
        )
        .expect("json");
        assert_eq!(p.namespaces[1].join("."), "a.b");
        assert_eq!(p.next_page_token.as_deref(), Some("t2"));
        let p: NamespacePage = serde_json::from_str(r#"{"namespaces":[]}"#).expect("json");
        assert!(p.namespaces.is_empty() && p.next_page_token.is_none());
    }
}
