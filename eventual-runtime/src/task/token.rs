//! Signed completion tokens of asynchronous tasks.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

/// A token naming one task attempt, signed by the engine so that it cannot be forged.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CompletionToken(pub String);

impl fmt::Display for CompletionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a token names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The execution.
    pub execution_id: String,
    /// The step.
    pub seq: u32,
    /// The attempt.
    pub attempt: u32,
}

/// Why a token was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not of the token format.
    #[error("malformed completion token")]
    Malformed,
    /// The signature does not match: forged or from another engine.
    #[error("completion token signature is not valid")]
    BadSignature,
}

/// Signs and checks completion tokens with a secret key (HMAC-SHA256).
///
/// ```
/// use eventual_runtime::task::TokenSigner;
/// use eventual_runtime::task::token_claims;
/// let signer = TokenSigner::new(b"secret");
/// let token = signer.sign(&token_claims("exec-1", 3, 1));
/// assert_eq!(signer.verify(&token).unwrap().seq, 3);
/// let forged = eventual_runtime::task::CompletionToken(token.0.replace('.', ".x"));
/// assert!(signer.verify(&forged).is_err());
/// ```
#[derive(Clone)]
pub struct TokenSigner {
    key: Vec<u8>,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

impl TokenSigner {
    /// A signer with the engine's secret key.
    pub fn new(key: &[u8]) -> Self {
        TokenSigner { key: key.to_vec() }
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(payload);
        mac
    }

    /// The token for `claims`.
    pub fn sign(&self, claims: &TokenClaims) -> CompletionToken {
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let signature = self.mac(&payload).finalize().into_bytes();
        CompletionToken(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// The claims of a genuine token.
    pub fn verify(&self, token: &CompletionToken) -> Result<TokenClaims, TokenError> {
        let (payload, signature) = token.0.split_once('.').ok_or(TokenError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::BadSignature)?;
        self.mac(&payload)
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)
    }
}

/// Claims for attempt `attempt` of step `seq` of `execution_id`.
pub fn token_claims(execution_id: &str, seq: u32, attempt: u32) -> TokenClaims {
    TokenClaims {
        execution_id: execution_id.to_owned(),
        seq,
        attempt,
    }
}
