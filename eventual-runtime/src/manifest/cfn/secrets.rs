//! The key that signs completion tokens (`ctx.complete_later()`): a Secrets Manager secret
//! that CloudFormation generates when it creates the stack. Its properties never change, so
//! an update keeps it, and every token handed out before a redeploy stays valid. (A key passed
//! as a parameter would need the same value on every deploy, and a fresh random one
//! invalidates every outstanding token.)
//!
//! The task and API functions read it as `EVENTUAL_TOKEN_KEY`, a dynamic reference that
//! CloudFormation resolves when it creates or updates them (the `Ref` in it orders them after
//! the secret). Their code needs no Secrets Manager call and no permission on the secret. The
//! secret has no fixed name, so a stack deleted and created again does not collide with the
//! old secret while Secrets Manager keeps it for recovery.

use super::Resources;
use crate::manifest::names::id;
use serde_json::{json, Value};

/// Characters of the generated key: letters and digits only, about 380 bits.
const KEY_LENGTH: u32 = 64;

/// Adds the secret.
pub(super) fn add(service: &str, resources: &mut Resources) {
    resources.insert(
        id::COMPLETION_TOKEN_SECRET.into(),
        json!({
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "Description": format!("Signs the completion tokens of {service}'s tasks that complete later; generated once, kept across deploys"),
                "GenerateSecretString": {
                    "PasswordLength": KEY_LENGTH,
                    "ExcludePunctuation": true,
                },
            },
            "Metadata": {
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_149",
                            "comment": "Read only by CloudFormation when it resolves the functions' dynamic reference; the AWS managed key suffices, a customer managed key is the user's choice",
                        },
                        {
                            "id": "CKV2_AWS_57",
                            "comment": "Rotating the key would invalidate every outstanding completion token; it is generated once on purpose",
                        },
                    ],
                },
            },
        }),
    );
}

/// The dynamic reference CloudFormation replaces with the key (the secret's whole string).
pub(super) fn token_key_reference() -> Value {
    json!({
        "Fn::Sub": format!(
            "{{{{resolve:secretsmanager:${{{}}}:SecretString}}}}",
            id::COMPLETION_TOKEN_SECRET
        )
    })
}
