//! CBOR as CTAP2 uses it: maps keyed by small integers (or, in the attestation object, short
//! strings), written in canonical order, and read without trusting the other side.

use ciborium::Value;

use crate::error::CtapError;

/// Encodes a value. Writing to memory cannot fail, and every value we build is encodable.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(e) = ciborium::ser::into_writer(value, &mut out) {
        unreachable!("encoding CBOR into memory failed: {e}");
    }
    out
}

/// Decodes one value that must fill `bytes` exactly.
pub fn decode(bytes: &[u8]) -> Result<Value, CtapError> {
    let mut reader = bytes;
    let value: Value = ciborium::de::from_reader(&mut reader)
        .map_err(|e| CtapError::malformed(format!("not CBOR: {e}")))?;
    if !reader.is_empty() {
        return Err(CtapError::malformed(format!("{} bytes after the CBOR value", reader.len())));
    }
    Ok(value)
}

/// A map in CTAP2 canonical order: keys sorted by their encoding, shorter first, then bytewise
/// (so 1 < 2 < -1 < -2, and "fmt" < "attStmt" < "authData").
pub fn canonical_map(mut entries: Vec<(Value, Value)>) -> Value {
    entries.sort_by_cached_key(|(k, _)| {
        let encoded = encode(k);
        (encoded.len(), encoded)
    });
    Value::Map(entries)
}

/// A canonical map with integer keys, leaving out absent members.
pub fn int_map(entries: Vec<(i64, Option<Value>)>) -> Value {
    canonical_map(
        entries.into_iter().filter_map(|(k, v)| v.map(|v| (Value::Integer(k.into()), v))).collect(),
    )
}

pub fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

pub fn int(i: i64) -> Value {
    Value::Integer(i.into())
}

/// The members of a map received from the other side, read by key with errors that name the
/// message and the member.
#[derive(Debug)]
pub struct Fields<'a> {
    message: &'a str,
    entries: Vec<(Value, Value)>,
}

impl<'a> Fields<'a> {
    /// Reads `bytes` as a map; `message` names it in errors ("getInfo response").
    pub fn decode(message: &'a str, bytes: &[u8]) -> Result<Self, CtapError> {
        Self::of(message, decode(bytes)?)
    }

    pub fn of(message: &'a str, value: Value) -> Result<Self, CtapError> {
        match value {
            Value::Map(entries) => Ok(Fields { message, entries }),
            _ => Err(CtapError::malformed(format!("the {message} is not a CBOR map"))),
        }
    }

    fn find(&self, key: &Value) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get(&self, key: i64) -> Option<&Value> {
        self.find(&Value::Integer(key.into()))
    }

    pub fn get_text_key(&self, key: &str) -> Option<&Value> {
        self.find(&Value::Text(key.to_owned()))
    }

    fn wrong(&self, key: impl std::fmt::Display, want: &str) -> CtapError {
        CtapError::malformed(format!("member {key} of the {} is not {want}", self.message))
    }

    fn missing(&self, key: impl std::fmt::Display) -> CtapError {
        CtapError::malformed(format!("the {} lacks member {key}", self.message))
    }

    pub fn opt_bytes(&self, key: i64) -> Result<Option<Vec<u8>>, CtapError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bytes(b)) => Ok(Some(b.clone())),
            Some(_) => Err(self.wrong(key, "a byte string")),
        }
    }

    pub fn bytes(&self, key: i64) -> Result<Vec<u8>, CtapError> {
        self.opt_bytes(key)?.ok_or_else(|| self.missing(key))
    }

    pub fn opt_text(&self, key: i64) -> Result<Option<String>, CtapError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Text(t)) => Ok(Some(t.clone())),
            Some(_) => Err(self.wrong(key, "a text string")),
        }
    }

    pub fn text(&self, key: i64) -> Result<String, CtapError> {
        self.opt_text(key)?.ok_or_else(|| self.missing(key))
    }

    pub fn opt_uint(&self, key: i64) -> Result<Option<u64>, CtapError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Integer(i)) => {
                u64::try_from(*i).map(Some).map_err(|_| self.wrong(key, "an unsigned integer"))
            }
            Some(_) => Err(self.wrong(key, "an unsigned integer")),
        }
    }

    pub fn uint(&self, key: i64) -> Result<u64, CtapError> {
        self.opt_uint(key)?.ok_or_else(|| self.missing(key))
    }

    pub fn opt_map(&self, key: i64) -> Result<Option<Fields<'a>>, CtapError> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::Map(_)) => Fields::of(self.message, v.clone()).map(Some),
            Some(_) => Err(self.wrong(key, "a map")),
        }
    }

    pub fn opt_array(&self, key: i64) -> Result<Option<Vec<Value>>, CtapError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items.clone())),
            Some(_) => Err(self.wrong(key, "an array")),
        }
    }

    /// The entries with text keys and boolean values (the `options` members).
    pub fn flags(&self) -> Vec<(String, bool)> {
        self.entries
            .iter()
            .filter_map(|(k, v)| match (k, v) {
                (Value::Text(k), Value::Bool(b)) => Some((k.clone(), *b)),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_come_out_in_canonical_order() {
        let m = int_map(vec![(-2, Some(int(5))), (3, Some(int(1))), (-1, Some(int(2))), (1, None)]);
        let Value::Map(entries) = m else { panic!("not a map") };
        let keys: Vec<_> = entries.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, vec![int(3), int(-1), int(-2)]);
        let t = canonical_map(vec![
            (text("authData"), int(0)),
            (text("fmt"), int(0)),
            (text("attStmt"), int(0)),
        ]);
        let Value::Map(entries) = t else { panic!("not a map") };
        let keys: Vec<_> = entries.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, vec![text("fmt"), text("attStmt"), text("authData")]);
    }

    #[test]
    fn trailing_bytes_and_wrong_types_are_refused_by_name() {
        let mut bytes = encode(&int_map(vec![(1, Some(text("x")))]));
        bytes.push(0);
        assert!(decode(&bytes).unwrap_err().to_string().contains("1 bytes after"));
        let f = Fields::decode("test message", &encode(&int_map(vec![(1, Some(int(7)))]))).unwrap();
        let err = f.bytes(1).unwrap_err().to_string();
        assert!(err.contains("member 1 of the test message is not a byte string"), "{err}");
        assert!(f.bytes(2).unwrap_err().to_string().contains("lacks member 2"));
        assert!(Fields::decode("x", &encode(&int(1))).is_err());
    }
}
