//! What the client logs, through `tracing` (feature `tracing`, on by
//! default): the same span and messages as the tokio client.
//!
//! One `ami` span per client, with `host`, `port`, `user` and `tls`; every
//! message names it as its parent explicitly, so nothing is entered or left
//! on the hot path. Login, actions and closes log at debug, logins and
//! reconnects at info, lost connections and failed attempts at warn. No
//! secret is ever a field: the secret, the MD5 key and the login's bytes
//! stay out of every message.
//!
//! Without the feature every method is an empty inline function.

use amiproto::{Banner, CloseReason, Endpoint};

use crate::Error;

/// The client's span and its messages.
#[derive(Clone, Debug)]
pub(crate) struct Trace {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

#[cfg(feature = "tracing")]
impl Trace {
    pub(crate) fn new(endpoint: &Endpoint, user: &str) -> Trace {
        Trace {
            span: tracing::info_span!(
                "ami",
                host = %endpoint.host,
                port = endpoint.port,
                user = %user,
                tls = endpoint.tls,
            ),
        }
    }

    pub(crate) fn connecting(&self) {
        tracing::debug!(parent: &self.span, "connecting");
    }

    pub(crate) fn login_failed(&self, error: &Error) {
        tracing::warn!(parent: &self.span, error = %error, "login failed");
    }

    pub(crate) fn banner(&self, banner: &Banner) {
        tracing::debug!(parent: &self.span, banner = %banner.version_str(), "banner");
    }

    pub(crate) fn logged_in(&self, generation: u32) {
        tracing::info!(parent: &self.span, generation, "logged in");
    }

    #[inline]
    pub(crate) fn send(&self, action: &str) {
        tracing::debug!(parent: &self.span, action, "send");
    }

    pub(crate) fn cancelled(&self, seq: u64) {
        tracing::debug!(parent: &self.span, seq, "action cancelled");
    }

    pub(crate) fn skipped(&self, error: &amiproto::DecodeError) {
        tracing::warn!(parent: &self.span, error = %error, "packet skipped");
    }

    pub(crate) fn closed(&self, reason: &CloseReason) {
        tracing::debug!(parent: &self.span, %reason, "connection closed");
    }

    pub(crate) fn lost(&self, reason: &CloseReason) {
        tracing::warn!(parent: &self.span, %reason, "connection lost; reconnecting");
    }

    pub(crate) fn giving_up(&self, attempts: u32) {
        tracing::warn!(parent: &self.span, attempts, "giving up reconnecting");
    }

    pub(crate) fn reconnected(&self, generation: u32) {
        tracing::info!(parent: &self.span, generation, "reconnected");
    }

    pub(crate) fn attempt_failed(&self, error: &Error, attempt: u32) {
        tracing::warn!(parent: &self.span, error = %error, attempt, "reconnect attempt failed");
    }
}

#[cfg(not(feature = "tracing"))]
#[allow(clippy::unused_self)]
impl Trace {
    pub(crate) fn new(_: &Endpoint, _: &str) -> Trace {
        Trace {}
    }
    #[inline]
    pub(crate) fn connecting(&self) {}
    #[inline]
    pub(crate) fn login_failed(&self, _: &Error) {}
    #[inline]
    pub(crate) fn banner(&self, _: &Banner) {}
    #[inline]
    pub(crate) fn logged_in(&self, _: u32) {}
    #[inline]
    pub(crate) fn send(&self, _: &str) {}
    #[inline]
    pub(crate) fn cancelled(&self, _: u64) {}
    #[inline]
    pub(crate) fn skipped(&self, _: &amiproto::DecodeError) {}
    #[inline]
    pub(crate) fn closed(&self, _: &CloseReason) {}
    #[inline]
    pub(crate) fn lost(&self, _: &CloseReason) {}
    #[inline]
    pub(crate) fn giving_up(&self, _: u32) {}
    #[inline]
    pub(crate) fn reconnected(&self, _: u32) {}
    #[inline]
    pub(crate) fn attempt_failed(&self, _: &Error, _: u32) {}
}
