//! `[minio]`: the platform's S3-compatible object store, MinIO (RELEASE.2021-04-22 in the local
//! stack). One name for it everywhere: the `[minio]` section, `Service::Minio`, this crate
//! (`carbon-minio`), [`MinioClient`], the `minio` suite and the `minio` prefix of its errors. The
//! client speaks only the S3 API, path-style, so any S3 store works (the `s3_compat` self test
//! runs the `minio` suite against versitygw).
//!
//! Requests are signed with `rusty-s3` (SigV4, no I/O of its own) and sent with the shared
//! [`HttpClient`], so every failure names method, URL (signature removed), status and body.
//! Addressing is path-style, as MinIO and versitygw expect.

mod declare;

use std::time::Duration;

use carbon_config::{ConfigError, Secret, Target};
use carbon_core::http::{ClientOptions, HttpClient, HttpError};
use reqwest::{Method, StatusCode};
use rusty_s3::actions::{CreateMultipartUpload, ListObjectsV2, ObjectIdentifier};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use url::Url;

/// How long a signature is valid for the requests this client sends itself.
const SIGNATURE_TTL: Duration = Duration::from_secs(600);

/// Errors of the object-store client.
#[derive(Debug, thiserror::Error)]
pub enum MinioError {
    /// The request failed or the store refused it.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The target does not configure the store or its credentials.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store answered with XML this client cannot read.
    #[error("minio: unreadable {what} response: {message}")]
    Xml {
        /// Which response.
        what: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A bucket name or endpoint that cannot form a URL.
    #[error("minio: invalid bucket `{bucket}` at {endpoint}: {message}")]
    Bucket {
        /// The bucket.
        bucket: String,
        /// The endpoint.
        endpoint: String,
        /// Why.
        message: String,
    },
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, as the store reports it (RFC 3339).
    pub last_modified: Option<String>,
}

/// A client for one S3 endpoint.
#[derive(Debug, Clone)]
pub struct MinioClient {
    http: HttpClient,
    endpoint: Url,
    region: String,
    credentials: Credentials,
    health_path: Option<String>,
    /// When set, every object this client writes carries it as its ownership marker
    /// (user metadata `carbon-e2e-run`, see `carbon_core::naming`).
    run: Option<String>,
}

/// A multipart upload that was started and neither completed nor aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The key it was uploading to.
    pub key: String,
    /// Its id.
    pub upload_id: String,
    /// When it started, as the store reports it (RFC 3339).
    pub initiated: Option<String>,
}

/// The header that carries the run id of an object this client wrote.
fn run_header() -> String {
    format!("x-amz-meta-{}", carbon_core::naming::S3_RUN_METADATA)
}

impl MinioClient {
    /// Builds a client for `endpoint`.
    ///
    /// # Errors
    /// [`MinioError::Http`] when the HTTP client cannot be built.
    pub fn new(
        endpoint: Url,
        region: &str,
        access_key: &Secret,
        secret_key: &Secret,
        timeout: Duration,
        health_path: Option<String>,
    ) -> Result<Self, MinioError> {
        let http = HttpClient::new(
            "minio",
            ClientOptions {
                timeout,
                ca_file: None,
            },
        )?;
        Ok(Self::with_http(
            endpoint,
            region,
            (access_key, secret_key),
            http,
            health_path,
        ))
    }

    /// Builds a client for `endpoint` over `http` (made by [`Target::http_client`] from a
    /// target, or by [`Self::new`]).
    pub fn with_http(
        endpoint: Url,
        region: &str,
        (access_key, secret_key): (&Secret, &Secret),
        http: HttpClient,
        health_path: Option<String>,
    ) -> Self {
        Self {
            http,
            endpoint,
            region: region.to_string(),
            credentials: Credentials::new(access_key.expose(), secret_key.expose()),
            health_path,
            run: None,
        }
    }

    /// This client, marking every object it writes as owned by `run`.
    #[must_use]
    pub fn with_run(&self, run: &str) -> Self {
        Self {
            run: Some(run.to_string()),
            ..self.clone()
        }
    }

    /// Signs `action` with the ownership marker as a signed header, when the client has one.
    fn sign_marked<'a, A: S3Action<'a>>(
        &'a self,
        mut action: A,
    ) -> (Url, Option<(String, String)>) {
        let header = self.run.as_ref().map(|run| (run_header(), run.clone()));
        if let Some((k, v)) = &header {
            action.headers_mut().insert(k.clone(), v.clone());
        }
        (action.sign(SIGNATURE_TTL), header)
    }

    /// The server's clock: the `Date` header of a HEAD request for `bucket`, in unix seconds.
    ///
    /// # Errors
    /// [`MinioError::Http`] when the store does not answer; [`MinioError::Xml`] without a `Date`.
    pub async fn server_clock(&self, bucket: &str) -> Result<i64, MinioError> {
        let b = self.bucket(bucket)?;
        let url = b.head_bucket(Some(&self.credentials)).sign(SIGNATURE_TTL);
        let (_, response) = self
            .http
            .send_any(self.http.request(Method::HEAD, url))
            .await?;
        carbon_core::http::server_date(&response).ok_or(MinioError::Xml {
            what: "HeadBucket",
            message: "no readable Date header".into(),
        })
    }

    /// What the store says it is, from one signed `HEAD` of `bucket` (the request
    /// [`Self::bucket_exists`] makes): its `Server` response header, whatever the status (a
    /// 403 or 404 carries it too). MinIO answers `MinIO` (no version: its release is only in
    /// the admin API, which needs admin credentials), versitygw `VERSITYGW`. `Ok(None)` when
    /// the answer has no `Server` header.
    ///
    /// # Errors
    /// [`MinioError::Http`] when the store does not answer.
    pub async fn server_version(&self, bucket: &str) -> Result<Option<String>, MinioError> {
        let b = self.bucket(bucket)?;
        let url = b.head_bucket(Some(&self.credentials)).sign(SIGNATURE_TTL);
        let (_, response) = self
            .http
            .send_any(self.http.request(Method::HEAD, url))
            .await?;
        Ok(server_header(response.headers()))
    }

    /// The run id an object carries as its ownership marker, if any (HEAD object).
    ///
    /// # Errors
    /// [`MinioError::Http`] when the store refuses.
    pub async fn object_run(&self, bucket: &str, key: &str) -> Result<Option<String>, MinioError> {
        let b = self.bucket(bucket)?;
        let url = b
            .head_object(Some(&self.credentials), key)
            .sign(SIGNATURE_TTL);
        let (line, response) = self
            .http
            .send_any(self.http.request(Method::HEAD, url))
            .await?;
        match response.status() {
            s if s.is_success() => Ok(response
                .headers()
                .get(run_header())
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.http.status_error(line, response).await.into()),
        }
    }

    /// Multipart uploads under `prefix` that were started and never completed or aborted.
    ///
    /// # Errors
    /// [`MinioError::Http`] when the store refuses.
    pub async fn incomplete_uploads(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<Upload>, MinioError> {
        let b = self.bucket(bucket)?;
        // rusty-s3 has no ListMultipartUploads action; it is ListObjectsV2's request (GET on
        // the bucket) with the `uploads` sub-resource instead of `list-type`.
        let mut action = b.list_objects_v2(Some(&self.credentials));
        let query = action.query_mut();
        query.remove("list-type");
        query.remove("encoding-type");
        query.insert("uploads", "");
        query.insert("prefix", prefix.to_string());
        let url = action.sign(SIGNATURE_TTL);
        let (_, xml) = self.http.text(self.http.request(Method::GET, url)).await?;
        Ok(parse_uploads(&xml))
    }

    /// Aborts an incomplete multipart upload (its parts are dropped).
    ///
    /// # Errors
    /// [`MinioError::Http`] when the store refuses.
    pub async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), MinioError> {
        let b = self.bucket(bucket)?;
        let url = b
            .abort_multipart_upload(Some(&self.credentials), key, upload_id)
            .sign(SIGNATURE_TTL);
        self.http
            .send(self.http.request(Method::DELETE, url))
            .await?;
        Ok(())
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    fn bucket(&self, name: &str) -> Result<Bucket, MinioError> {
        Bucket::new(
            self.endpoint.clone(),
            UrlStyle::Path,
            name.to_string(),
            self.region.clone(),
        )
        .map_err(|e| MinioError::Bucket {
            bucket: name.into(),
            endpoint: self.endpoint.to_string(),
            message: e.to_string(),
        })
    }

    /// Checks the store is live: its health path when the target names one, else a signed
    /// request for `bucket`'s location (which also proves the credentials).
    ///
    /// # Errors
    /// [`MinioError::Http`] naming the endpoint and what failed.
    pub async fn health(&self, bucket: &str) -> Result<(), MinioError> {
        if let Some(path) = &self.health_path {
            let url = self.endpoint.join(path).map_err(|e| MinioError::Bucket {
                bucket: bucket.into(),
                endpoint: self.endpoint.to_string(),
                message: e.to_string(),
            })?;
            self.http.send(self.http.request(Method::GET, url)).await?;
        }
        // A signed request proves the credentials too, which a health path does not.
        self.bucket_exists(bucket).await.map(drop)
    }

    /// Whether `bucket` exists (HEAD bucket: 200 yes, 404 no).
    ///
    /// # Errors
    /// [`MinioError::Http`] for any other answer, e.g. 403 for wrong credentials.
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool, MinioError> {
        let b = self.bucket(bucket)?;
        let url = b.head_bucket(Some(&self.credentials)).sign(SIGNATURE_TTL);
        self.head_exists(url).await
    }

    /// HEAD a signed URL: 2xx yes, 404 no, anything else an error with status and body.
    async fn head_exists(&self, url: Url) -> Result<bool, MinioError> {
        let (line, response) = self
            .http
            .send_any(self.http.request(Method::HEAD, url))
            .await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.http.status_error(line, response).await.into()),
        }
    }

    /// Creates `bucket`; an existing bucket owned by these credentials is fine.
    ///
    /// # Errors
    /// [`MinioError::Http`] when the store refuses.
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), MinioError> {
        if self.bucket_exists(bucket).await? {
            return Ok(());
        }
        let b = self.bucket(bucket)?;
        let url = b.create_bucket(&self.credentials).sign(SIGNATURE_TTL);
        self.http.send(self.http.request(Method::PUT, url)).await?;
        Ok(())
    }

    /// Uploads `body` to `key` in one request.
    ///
    /// # Errors
    /// [`MinioError::Http`] when the store refuses.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<(), MinioError> {
        let b = self.bucket(bucket)?;
        let (url, marker) = self.sign_marked(b.put_object(Some(&self.credentials), key));
        let mut request = self.http.request(Method::PUT, url).body(body);
        if let Some((k, v)) = marker {
            request = request.header(k, v);
        }
        self.http.send(request).await?;
        Ok(())
    }

    /// Uploads `body` to `key` as a multipart upload of `part_size` parts; aborts the upload
    /// when a part fails, so no orphaned parts stay behind.
    ///
    /// # Errors
    /// [`MinioError::Http`] when the store refuses a step.
    pub async fn put_multipart(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        part_size: usize,
    ) -> Result<usize, MinioError> {
        let b = self.bucket(bucket)?;
        let (url, marker) =
            self.sign_marked(b.create_multipart_upload(Some(&self.credentials), key));
        let mut request = self.http.request(Method::POST, url);
        if let Some((k, v)) = marker {
            request = request.header(k, v);
        }
        let (_, xml) = self.http.text(request).await?;
        let created = CreateMultipartUpload::parse_response(&xml).map_err(|e| MinioError::Xml {
            what: "CreateMultipartUpload",
            message: e.to_string(),
        })?;
        let upload_id = created.upload_id().to_string();
        match self
            .upload_parts(&b, key, &upload_id, body, part_size)
            .await
        {
            Ok(parts) => Ok(parts),
            Err(e) => {
                let abort = b
                    .abort_multipart_upload(Some(&self.credentials), key, &upload_id)
                    .sign(SIGNATURE_TTL);
                // The part's error is the one worth reporting; a failed abort is left to the reaper.
                let _ = self
                    .http
                    .send(self.http.request(Method::DELETE, abort))
                    .await;
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        b: &Bucket,
        key: &str,
        upload_id: &str,
        body: &[u8],
        part_size: usize,
    ) -> Result<usize, MinioError> {
        let mut etags = Vec::new();
        for (i, chunk) in body.chunks(part_size.max(1)).enumerate() {
            let number = u16::try_from(i + 1).map_err(|_| MinioError::Xml {
                what: "UploadPart",
                message: "more than 65535 parts".into(),
            })?;
            let url = b
                .upload_part(Some(&self.credentials), key, number, upload_id)
                .sign(SIGNATURE_TTL);
            let (line, response) = self
                .http
                .send(self.http.request(Method::PUT, url).body(chunk.to_vec()))
                .await?;
            let etag = response
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .ok_or_else(|| MinioError::Xml {
                    what: "UploadPart",
                    message: format!("{line}: no ETag header"),
                })?;
            etags.push(etag);
        }
        let count = etags.len();
        let complete = b.complete_multipart_upload(
            Some(&self.credentials),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let url = complete.sign(SIGNATURE_TTL);
        let (_, xml) = self
            .http
            .text(self.http.request(Method::POST, url).body(complete.body()))
            .await?;
        // S3 may answer 200 with an <Error> body when completion fails late.
        if xml.contains("<Error>") {
            return Err(MinioError::Xml {
                what: "CompleteMultipartUpload",
                message: carbon_core::http::excerpt(&xml),
            });
        }
        Ok(count)
    }

    /// Downloads `key`.
    ///
    /// # Errors
    /// [`MinioError::Http`]; a missing key is a 404 status error.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, MinioError> {
        let url = self.presign_get(bucket, key, SIGNATURE_TTL)?;
        let (line, response) = self.http.send(self.http.request(Method::GET, url)).await?;
        Ok(self.http.bytes(&line, response).await?)
    }

    /// Whether `key` exists (HEAD object: 200 yes, 404 no).
    ///
    /// # Errors
    /// [`MinioError::Http`] for any other answer.
    pub async fn object_exists(&self, bucket: &str, key: &str) -> Result<bool, MinioError> {
        let b = self.bucket(bucket)?;
        let url = b
            .head_object(Some(&self.credentials), key)
            .sign(SIGNATURE_TTL);
        self.head_exists(url).await
    }

    /// A presigned GET URL anyone can use until it expires.
    ///
    /// # Errors
    /// [`MinioError::Bucket`] when the bucket name cannot form a URL.
    pub fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires_in: Duration,
    ) -> Result<Url, MinioError> {
        Ok(self
            .bucket(bucket)?
            .get_object(Some(&self.credentials), key)
            .sign(expires_in))
    }

    /// Lists every object under `prefix`, following continuation tokens.
    ///
    /// # Errors
    /// [`MinioError::Http`] or [`MinioError::Xml`].
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, MinioError> {
        let b = self.bucket(bucket)?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = b.list_objects_v2(Some(&self.credentials));
            action.with_prefix(prefix);
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let url = action.sign(SIGNATURE_TTL);
            let (_, xml) = self.http.text(self.http.request(Method::GET, url)).await?;
            let page = ListObjectsV2::parse_response(&xml).map_err(|e| MinioError::Xml {
                what: "ListObjectsV2",
                message: e.to_string(),
            })?;
            out.extend(page.contents.into_iter().map(|c| ObjectInfo {
                key: c.key,
                size: c.size.unwrap_or(0),
                last_modified: c.last_modified,
            }));
            match page.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// Deletes `key` (deleting a missing key succeeds, as in S3).
    ///
    /// # Errors
    /// [`MinioError::Http`] when the store refuses.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), MinioError> {
        let b = self.bucket(bucket)?;
        let url = b
            .delete_object(Some(&self.credentials), key)
            .sign(SIGNATURE_TTL);
        self.http
            .send(self.http.request(Method::DELETE, url))
            .await?;
        Ok(())
    }

    /// Deletes every object under `prefix`; returns how many.
    ///
    /// # Errors
    /// [`MinioError::Http`] when listing or a batch delete fails.
    pub async fn delete_prefix(&self, bucket: &str, prefix: &str) -> Result<usize, MinioError> {
        let objects = self.list(bucket, prefix).await?;
        let b = self.bucket(bucket)?;
        for batch in objects.chunks(1000) {
            let ids: Vec<ObjectIdentifier> = batch
                .iter()
                .map(|o| ObjectIdentifier::new(o.key.clone()))
                .collect();
            let action = b.delete_objects(Some(&self.credentials), ids.iter());
            let url = action.sign(SIGNATURE_TTL);
            let (body, md5) = action.body_with_md5();
            let (_, xml) = self
                .http
                .text(
                    self.http
                        .request(Method::POST, url)
                        .header("Content-MD5", md5)
                        .body(body),
                )
                .await?;
            if xml.contains("<Error>") {
                return Err(MinioError::Xml {
                    what: "DeleteObjects",
                    message: carbon_core::http::excerpt(&xml),
                });
            }
        }
        Ok(objects.len())
    }
}

/// The `<Upload>` entries of a ListMultipartUploads answer (a flat, well-known shape).
fn parse_uploads(xml: &str) -> Vec<Upload> {
    let field = |block: &str, tag: &str| {
        let open = format!("<{tag}>");
        let start = block.find(&open)? + open.len();
        let end = block[start..].find(&format!("</{tag}>"))? + start;
        Some(block[start..end].to_string())
    };
    xml.split("<Upload>")
        .skip(1)
        .filter_map(|block| {
            let block = block.split("</Upload>").next()?;
            Some(Upload {
                key: field(block, "Key")?,
                upload_id: field(block, "UploadId")?,
                initiated: field(block, "Initiated"),
            })
        })
        .collect()
}

impl carbon_config::FromTarget for MinioClient {
    const SECTION: &'static str = "minio";
    type Error = MinioError;

    fn from_target(target: &Target) -> Result<Self, MinioError> {
        let cfg = target.section("minio", &target.minio)?;
        let access = target.credential("minio", &cfg.access_key_env)?;
        let secret = target.credential("minio", &cfg.secret_key_env)?;
        let http = target.http_client(carbon_config::Service::Minio, cfg)?;
        Ok(Self::with_http(
            cfg.endpoint.clone(),
            &cfg.region,
            (&access, &secret),
            http,
            cfg.health_path.clone(),
        ))
    }
}

/// The `Server` header, trimmed; `None` when absent, empty or not text.
fn server_header(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get(reqwest::header::SERVER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod version_tests {
    use reqwest::header::{HeaderMap, HeaderValue, SERVER};

    /// Headers as MinIO and versitygw answer a HEAD bucket, and answers without the header.
    #[rstest::rstest]
    #[case::minio(Some(&b"MinIO"[..]), Some("MinIO"))]
    #[case::versitygw(Some(&b"VERSITYGW"[..]), Some("VERSITYGW"))]
    #[case::proxy_with_version(Some(&b" nginx/1.27.3 "[..]), Some("nginx/1.27.3"))]
    #[case::absent(None, None)]
    #[case::empty(Some(&b""[..]), None)]
    #[case::not_text(Some(&b"caf\xe9"[..]), None)]
    fn server_version_is_the_server_header(
        #[case] header: Option<&[u8]>,
        #[case] want: Option<&str>,
    ) {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-request-id", HeaderValue::from_static("17E3"));
        if let Some(h) = header {
            headers.insert(SERVER, HeaderValue::from_bytes(h).expect("header value"));
        }
        assert_eq!(super::server_header(&headers).as_deref(), want);
    }
}

#[cfg(test)]
mod upload_tests {
    #[test]
    fn incomplete_uploads_are_read_from_the_listing() {
        let xml = "<?xml version=\"1.0\"?><ListMultipartUploadsResult><Bucket>b</Bucket>\
            <Upload><Key>e2e/1f2e3d4c/multipart/big</Key><UploadId>abc</UploadId>\
            <Initiated>2026-11-27T03:00:00.000Z</Initiated></Upload>\
            <Upload><Key>other</Key><UploadId>def</UploadId></Upload></ListMultipartUploadsResult>";
        let uploads = super::parse_uploads(xml);
        assert_eq!(uploads.len(), 2);
        assert_eq!(uploads[0].key, "e2e/1f2e3d4c/multipart/big");
        assert_eq!(uploads[0].upload_id, "abc");
        assert_eq!(
            uploads[0].initiated.as_deref(),
            Some("2026-11-27T03:00:00.000Z")
        );
        assert_eq!(uploads[1].initiated, None);
    }
}

impl carbon_core::failure::Classify for MinioError {
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        use carbon_core::failure::Kind;
        match self {
            // S3 answers a wrong key or signature with 403 too: its error code says which.
            MinioError::Http(HttpError::Status { status, body, .. })
                if status.as_u16() == 403
                    && ["SignatureDoesNotMatch", "InvalidAccessKeyId"]
                        .iter()
                        .any(|code| body.contains(code)) =>
            {
                Some(Kind::Credentials)
            }
            MinioError::Http(e) => e.kind(),
            MinioError::Config(e) => e.kind(),
            MinioError::Xml { .. } => Some(Kind::Unreadable),
            MinioError::Bucket { .. } => Some(Kind::Runner),
        }
    }
}
