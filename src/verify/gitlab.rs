//! GitLab: `X-Gitlab-Token` carries the webhook's secret token itself. It is
//! stored only as a digest and checked like an external key.

pub const TOKEN_HEADER: &str = "x-gitlab-token";
