//! The body type of the layer's answers, shared by the modules that make or rewrite them.

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

/// Any error of a body the layer passes on.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response body of an [`AuthService`](super::AuthService): the inner service's, or
/// the layer's own answer.
pub type AuthBody = UnsyncBoxBody<Bytes, BoxError>;

/// A body of these bytes.
pub(crate) fn full(body: impl Into<Bytes>) -> AuthBody {
    UnsyncBoxBody::new(Full::new(body.into()).map_err(|never| match never {}))
}
