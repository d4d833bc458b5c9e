//! Where deliveries may go: public addresses only (unless allowed), checked on the address
//! connected to, and the typed errors of a delivery that got no answer.

use std::net::{IpAddr, SocketAddr};

use mlox_core::registry::is_public_ip;
use mlox_core::MlflowError;

/// A refusal to connect to an address that is not public: from the resolver, or for an
/// IP literal in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedAddress(pub IpAddr);

impl std::fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Webhook connection blocked: {} is not a public IP address",
            self.0
        )
    }
}

impl std::error::Error for BlockedAddress {}

/// Why a delivery got no answer from its receiver.
#[derive(Debug)]
pub(super) enum DeliveryError {
    /// The URL is not one webhooks may use (scheme, host): MLflow's message.
    InvalidUrl(MlflowError),
    /// The URL names a non-public IP address.
    Blocked(BlockedAddress),
    /// The request failed: connection, timeout, or our resolver refused the address.
    Request(reqwest::Error),
}

impl DeliveryError {
    /// Whether sending again may help: not when the address itself is refused.
    pub(super) fn is_retryable(&self) -> bool {
        match self {
            DeliveryError::Request(e) => blocked_address(e).is_none(),
            DeliveryError::InvalidUrl(_) | DeliveryError::Blocked(_) => false,
        }
    }
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryError::InvalidUrl(e) => f.write_str(&e.message),
            DeliveryError::Blocked(b) => b.fmt(f),
            DeliveryError::Request(e) => f.write_str(&describe(e)),
        }
    }
}

/// The address our resolver refused, when that is why `e` happened (the refusal is
/// several sources down, under reqwest's and hyper's own errors).
pub(super) fn blocked_address(e: &reqwest::Error) -> Option<IpAddr> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<BlockedAddress>() {
            return Some(b.0);
        }
        source = s.source();
    }
    None
}

/// Refuses to resolve names to non-public addresses (unless allowed).
pub(super) struct PublicResolver {
    pub(super) allow_private: bool,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private {
                if let Some(bad) = addrs.iter().find(|a| !is_public_ip(a.ip())) {
                    return Err(Box::new(BlockedAddress(bad.ip())) as _);
                }
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A reqwest error with its causes (the resolver's refusal is several levels down).
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
