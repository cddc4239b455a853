//! Tenants and access tokens.

use carbon_config::Secret;
use reqwest::Method;
use serde_json::Value;

use crate::envelope::unexpected;
use crate::{AccessToken, DsClient, DsError};

/// An access token as the list (and the create) answers it: id and token string.
pub(crate) fn access_token(t: &Value) -> Option<AccessToken> {
    Some(AccessToken {
        id: t.get("id")?.as_i64()?,
        token: Secret::new(t.get("token")?.as_str()?),
    })
}

impl DsClient {
    /// Tenant codes.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn tenants(&self) -> Result<Vec<String>, DsError> {
        let (_, data) = self.call(Method::GET, "tenants/list").await?;
        Ok(data
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.get("tenantCode").and_then(Value::as_str))
            .map(str::to_string)
            .collect())
    }

    /// Creates a tenant on queue 1 (the default queue).
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn create_tenant(&self, code: &str, description: &str) -> Result<(), DsError> {
        self.call_form(
            Method::POST,
            "tenants",
            &[
                ("tenantCode", code.into()),
                ("queueId", "1".into()),
                ("description", description.into()),
            ],
        )
        .await
        .map(drop)
    }

    /// Stores `token` as an access token for `user_id` that expires at `expire`
    /// (`yyyy-MM-dd HH:mm:ss`, the server's local time). The caller makes the string
    /// (`carbon_core::naming::token`): the server's own generator hashes user, expiry and the
    /// current second, so two runs asking in the same second get the same token and the server
    /// then refuses both (code 10098).
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn create_access_token(
        &self,
        user_id: i64,
        expire: &str,
        token: &str,
    ) -> Result<AccessToken, DsError> {
        let (line, data) = self
            .call_form(
                Method::POST,
                "access-tokens",
                &[
                    ("userId", user_id.to_string()),
                    ("expireTime", expire.into()),
                    ("token", token.to_string()),
                ],
            )
            .await?;
        let id = data
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| unexpected(line, "stored token without id", &Value::Null))?;
        Ok(AccessToken {
            id,
            token: Secret::new(token),
        })
    }

    /// Access tokens the current user can see (an admin sees every user's): id and token.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn access_tokens(&self) -> Result<Vec<AccessToken>, DsError> {
        let list: Vec<Value> = self
            .every_page("access-tokens", &[("searchVal", String::new())], 100)
            .await?;
        Ok(list.iter().filter_map(access_token).collect())
    }

    /// Deletes an access token.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn delete_access_token(&self, id: i64) -> Result<(), DsError> {
        self.call(Method::DELETE, &format!("access-tokens/{id}"))
            .await
            .map(drop)
    }
}
