//! The signature base of RFC 9421 section 2.5, and the `Signature-Input` / `Signature`
//! fields of one signature.
//!
//! The caller derives each covered component's value from its message (`@method`,
//! `@target-uri`, a header's trimmed value, ...); this module orders them as the
//! signature's parameters list them, appends `@signature-params`, and (de)serializes the
//! fields with `sfv`. A verifier re-serializes the parameters it parsed, in the order the
//! signer sent them, so the base is the signer's own.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sfv::{BareItem, Dictionary, InnerList, Item, Key, KeyRef, ListEntry, ListSerializer, Parser};

use super::SignatureError;

/// The covered components and the parameters of one signature (the inner list of its
/// `Signature-Input` member).
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureParams(InnerList);

fn sf_string(v: &str) -> Result<sfv::String, SignatureError> {
    sfv::String::from_string(v.to_owned()).map_err(|_| SignatureError::Malformed("string"))
}

fn sf_key(v: &str) -> Result<Key, SignatureError> {
    Key::from_string(v.to_owned()).map_err(|_| SignatureError::Malformed("key"))
}

impl SignatureParams {
    /// Parameters covering `components` (identifiers in signing order, such as
    /// `@method` or `content-digest`), with no signature parameters yet.
    ///
    /// # Errors
    /// [`SignatureError::Malformed`] when an identifier is not a valid string.
    pub fn new(components: &[&str]) -> Result<Self, SignatureError> {
        let items = components
            .iter()
            .map(|c| Ok(Item::new(sf_string(c)?)))
            .collect::<Result<Vec<_>, SignatureError>>()?;
        Ok(Self(InnerList::new(items)))
    }

    /// Adds an integer parameter (`created`, `expires`).
    ///
    /// # Errors
    /// [`SignatureError::Malformed`] for an invalid name or an out-of-range value.
    pub fn integer(mut self, name: &str, value: i64) -> Result<Self, SignatureError> {
        let v = sfv::Integer::try_from(value).map_err(|_| SignatureError::Malformed("integer"))?;
        self.0.params.insert(sf_key(name)?, BareItem::Integer(v));
        Ok(self)
    }

    /// Adds a string parameter (`nonce`, `keyid`, `alg`, `tag`).
    ///
    /// # Errors
    /// [`SignatureError::Malformed`] for an invalid name or value.
    pub fn string(mut self, name: &str, value: &str) -> Result<Self, SignatureError> {
        self.0
            .params
            .insert(sf_key(name)?, BareItem::String(sf_string(value)?));
        Ok(self)
    }

    /// The covered component identifiers, in order. Component parameters (`;sf`, `;key`,
    /// `;req`, ...) are not supported and refused.
    ///
    /// # Errors
    /// [`SignatureError::Malformed`] when a member is not a plain string.
    pub fn components(&self) -> Result<Vec<&str>, SignatureError> {
        self.0
            .items
            .iter()
            .map(|item| match (&item.bare_item, item.params.is_empty()) {
                (BareItem::String(s), true) => Ok(s.as_str()),
                _ => Err(SignatureError::Malformed("component")),
            })
            .collect()
    }

    /// The names of the signature parameters, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.params.keys().map(|k| k.as_str())
    }

    /// An integer parameter, if present and an integer.
    #[must_use]
    pub fn get_integer(&self, name: &str) -> Option<i64> {
        match self.0.params.get(name)? {
            BareItem::Integer(v) => Some(i64::from(*v)),
            _ => None,
        }
    }

    /// A string parameter, if present and a string.
    #[must_use]
    pub fn get_string(&self, name: &str) -> Option<&str> {
        match self.0.params.get(name)? {
            BareItem::String(v) => Some(v.as_str()),
            _ => None,
        }
    }

    /// Whether parameter `name` is present (of any type).
    #[must_use]
    pub fn has(&self, name: &str) -> bool {
        self.0.params.contains_key(name)
    }

    /// The serialized inner list: the value of `@signature-params`.
    #[must_use]
    pub fn serialize(&self) -> String {
        let mut ser = ListSerializer::new();
        ser.members([&ListEntry::InnerList(self.0.clone())]);
        // a list of one inner list always serializes
        ser.finish().unwrap_or_default()
    }
}

/// The signature base: one line `"<id>": <value>` per covered component, in the order the
/// parameters list them, then `"@signature-params": <params>`. `value_of` gives each
/// component's value as derived from the message.
///
/// # Errors
/// [`SignatureError::Components`] when a component has no value;
/// [`SignatureError::Malformed`] when a component repeats or a value holds a line break.
pub fn signature_base<'v>(
    params: &SignatureParams,
    mut value_of: impl FnMut(&str) -> Option<&'v str>,
) -> Result<String, SignatureError> {
    let ids = params.components()?;
    let mut out = String::with_capacity(256);
    for (i, id) in ids.iter().enumerate() {
        if ids.iter().take(i).any(|seen| seen == id) {
            return Err(SignatureError::Malformed("duplicate component"));
        }
        let value = value_of(id).ok_or(SignatureError::Components)?;
        if value.contains(['\n', '\r']) {
            return Err(SignatureError::Malformed("component value"));
        }
        out.push('"');
        out.push_str(id);
        out.push_str("\": ");
        out.push_str(value);
        out.push('\n');
    }
    out.push_str("\"@signature-params\": ");
    out.push_str(&params.serialize());
    Ok(out)
}

/// The `Signature-Input` member `label=<params>`.
///
/// # Errors
/// [`SignatureError::Malformed`] when `label` is not a valid key.
pub fn signature_input_member(
    label: &str,
    params: &SignatureParams,
) -> Result<String, SignatureError> {
    KeyRef::from_str(label).map_err(|_| SignatureError::Malformed("label"))?;
    Ok(format!("{label}={}", params.serialize()))
}

/// The `Signature` member `label=:<base64>:`.
///
/// # Errors
/// [`SignatureError::Malformed`] when `label` is not a valid key.
pub fn signature_member(label: &str, signature: &[u8]) -> Result<String, SignatureError> {
    KeyRef::from_str(label).map_err(|_| SignatureError::Malformed("label"))?;
    Ok(format!("{label}=:{}:", STANDARD.encode(signature)))
}

fn dictionary(field: &str, what: &'static str) -> Result<Dictionary, SignatureError> {
    Parser::new(field)
        .parse()
        .map_err(|_| SignatureError::Malformed(what))
}

/// The parameters of signature `label` in a `Signature-Input` field value.
///
/// # Errors
/// [`SignatureError::Malformed`] when the field is not a dictionary or the member is not
/// an inner list; [`SignatureError::LabelMissing`] when there is no such member.
pub fn parse_signature_input(field: &str, label: &str) -> Result<SignatureParams, SignatureError> {
    match dictionary(field, "signature-input")?.shift_remove(label) {
        Some(ListEntry::InnerList(list)) => Ok(SignatureParams(list)),
        Some(ListEntry::Item(_)) => Err(SignatureError::Malformed("signature-input")),
        None => Err(SignatureError::LabelMissing),
    }
}

/// The signature bytes of member `label` in a `Signature` field value.
///
/// # Errors
/// [`SignatureError::Malformed`] when the field is not a dictionary or the member is not a
/// byte sequence without parameters; [`SignatureError::LabelMissing`] when there is none.
pub fn parse_signature(field: &str, label: &str) -> Result<Vec<u8>, SignatureError> {
    match dictionary(field, "signature")?.shift_remove(label) {
        Some(ListEntry::Item(Item {
            bare_item: BareItem::ByteSequence(bytes),
            params,
        })) if params.is_empty() => Ok(bytes),
        Some(_) => Err(SignatureError::Malformed("signature")),
        None => Err(SignatureError::LabelMissing),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn serializes_like_the_rfc() {
        let p = SignatureParams::new(&["@method", "@target-uri"])
            .unwrap()
            .integer("created", 1_618_884_473)
            .unwrap()
            .string("keyid", "test-key-ed25519")
            .unwrap();
        assert_eq!(
            p.serialize(),
            r#"("@method" "@target-uri");created=1618884473;keyid="test-key-ed25519""#
        );
        let field = signature_input_member("sig1", &p).unwrap();
        assert_eq!(parse_signature_input(&field, "sig1").unwrap(), p);
        assert_eq!(
            parse_signature_input(&field, "sig2"),
            Err(SignatureError::LabelMissing)
        );
    }

    #[test]
    fn base_refuses_duplicates_missing_values_and_line_breaks() {
        let p = SignatureParams::new(&["@method", "@method"]).unwrap();
        assert!(signature_base(&p, |_| Some("GET")).is_err());
        let p = SignatureParams::new(&["@method"]).unwrap();
        assert_eq!(
            signature_base(&p, |_| None),
            Err(SignatureError::Components)
        );
        assert!(signature_base(&p, |_| Some("GET\nx")).is_err());
        let with_param = parse_signature_input(r#"a=("content-digest";sf)"#, "a").unwrap();
        assert!(with_param.components().is_err());
    }
}
