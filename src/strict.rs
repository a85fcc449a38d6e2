//! Parsing that refuses what serde accepts silently: a mapping key given twice (the last one would
//! win), and a sequence where a mapping belongs (serde reads a struct from a sequence by position,
//! so `[absent, eu-west-2]` would become a bucket's `ensure` and `region`).

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::{Error, Invalid};
use crate::validate;

/// Parses a Pillar file, JSON or YAML, refusing duplicate mapping keys. JSON is tried first when
/// the text looks like it, because the YAML parser limits keys to 1024 characters and JSON does not.
pub fn from_document(text: &str) -> Result<Value, Error> {
    if text.trim_start().starts_with('{') {
        let found = RefCell::new(None);
        let mut de = serde_json::Deserializer::from_str(text);
        let result = Seed { path: String::new(), duplicate: &found }.deserialize(&mut de).and_then(|v| {
            de.end()?;
            Ok(v)
        });
        // A flow mapping in YAML (`{ocp_aws: {}}`) is not JSON: read it as YAML.
        if result.is_ok() || found.borrow().is_some() {
            return finish(result, &found, "", "not valid JSON");
        }
    }
    from_yaml(text)
}

/// Parses YAML (or JSON, which is YAML) into a value, refusing duplicate mapping keys.
pub fn from_yaml(text: &str) -> Result<Value, Error> {
    let found = RefCell::new(None);
    let result = Seed { path: String::new(), duplicate: &found }.deserialize(serde_yaml::Deserializer::from_str(text));
    finish(result, &found, "", "not valid YAML or JSON")
}

/// Parses one JSON text into a value, refusing duplicate object keys. Paths start at `root`.
pub fn from_json(text: &str, root: &str) -> Result<Value, Error> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let result = Seed { path: root.to_string(), duplicate: &found }.deserialize(&mut de).and_then(|v| {
        de.end()?;
        Ok(v)
    });
    finish(result, &found, root, "not valid JSON")
}

fn finish<E: fmt::Display>(
    result: Result<Value, E>,
    found: &RefCell<Option<(String, String)>>,
    root: &str,
    what: &str,
) -> Result<Value, Error> {
    match (result, found.take()) {
        (Ok(v), _) => Ok(v),
        (Err(_), Some((path, key))) => Err(Error::Invalid(vec![Invalid::new(
            path,
            format!("the key {} is given twice in one mapping; keep one", validate::quote(&key)),
        )])),
        (Err(e), None) => Err(Error::invalid(root, format!("{what}: {}", validate::bound_quotes(&e.to_string())))),
    }
}

/// Where a duplicate key was found: the path of the repeated entry and its key.
type Found<'a> = &'a RefCell<Option<(String, String)>>;

/// Deserialises any value, tracking its path so that a duplicate key is reported where it is.
struct Seed<'a> {
    path: String,
    duplicate: Found<'a>,
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML or JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        // Beyond 64 bits, as serde_json does without arbitrary precision: a float.
        self.visit_f64(v as f64)
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        self.visit_f64(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // NaN and infinities have no JSON form; they become null as serde_json::Value does.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) =
            seq.next_element_seed(Seed { path: format!("{}[{}]", self.path, items.len()), duplicate: self.duplicate })?
        {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<Key>()? {
            let path = child(&self.path, &key.0);
            if !seen.insert(key.0.clone()) {
                self.duplicate.replace(Some((path, key.0.clone())));
                return Err(de::Error::custom(format!("duplicate key {}", validate::quote(&key.0))));
            }
            let value = map.next_value_seed(Seed { path, duplicate: self.duplicate })?;
            out.insert(key.0, value);
        }
        Ok(Value::Object(out))
    }
}

/// A mapping key. YAML allows numbers and booleans as keys; they become their text, as JSON
/// would need, so `1:` and `"1":` are one key.
struct Key(String);

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text, number or boolean key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

/// A deserializer over a parsed value that refuses to read a struct from anything but a mapping,
/// at every depth. Through `serde_path_to_error` the path of the offending value is kept.
pub struct Strict(pub Value);

fn invalid_type(value: &Value, expected: &dyn de::Expected) -> serde_json::Error {
    let unexpected = match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    };
    de::Error::invalid_type(unexpected, expected)
}

impl<'de> Deserializer<'de> for Strict {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(StrictSeq(items.into_iter())),
            Value::Object(map) => visitor.visit_map(StrictMap { iter: map.into_iter(), value: None }),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Strict(other)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(StrictMap { iter: map.into_iter(), value: None }),
            other => Err(invalid_type(&other, &"a map")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(StrictMap { iter: map.into_iter(), value: None }),
            other => Err(invalid_type(&other, &"a map")),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(StrictSeq(items.into_iter())),
            other => Err(invalid_type(&other, &"a list")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // The Pillar's enums are words (`present`, `RSA_2048_BIT`): no content to keep strict.
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct identifier ignored_any
    }
}

struct StrictSeq(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for StrictSeq {
    type Error = serde_json::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Self::Error> {
        self.0.next().map(|v| seed.deserialize(Strict(v))).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct StrictMap {
    iter: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for StrictMap {
    type Error = serde_json::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Self::Error> {
        let value = self.value.take().ok_or_else(|| de::Error::custom("a value without a key"))?;
        seed.deserialize(Strict(value))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Deserialises with the path of the first error, prefixed by `prefix`. A struct is read only
/// from a mapping, never from a sequence by position.
pub fn deserialize<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, Error> {
    serde_path_to_error::deserialize(Strict(value)).map_err(|e| {
        let inner = e.path().to_string();
        let path = match inner.as_str() {
            "." | "" => prefix.to_string(),
            p if p.starts_with('[') => format!("{prefix}{p}"),
            p => format!("{prefix}.{p}"),
        };
        let message = validate::bound_quotes(&e.into_inner().to_string());
        Error::Invalid(vec![Invalid::new(path, validate::humane(&message))])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn invalid(e: Error) -> Vec<Invalid> {
        match e {
            Error::Invalid(all) => all,
            other => panic!("expected Invalid, got {other}"),
        }
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let e = invalid(from_yaml("ocp_aws:\n  s3:\n    buckets:\n      b: {}\n      b: {}\n").unwrap_err());
        assert_eq!(e[0].path, "ocp_aws.s3.buckets.b");
        assert!(e[0].message.contains("given twice"), "{}", e[0].message);
        let e = invalid(from_yaml("a: [{x: 1, x: 2}]").unwrap_err());
        assert_eq!(e[0].path, "a[0].x");
        let e = invalid(from_json(r#"{"version": 1, "version": 2}"#, "request").unwrap_err());
        assert_eq!(e[0].path, "request.version");
        let e = invalid(from_yaml("1: a\n\"1\": b\n").unwrap_err());
        assert_eq!(e[0].path, "1");
    }

    #[test]
    fn distinct_keys_and_plain_documents_parse() {
        assert_eq!(
            from_yaml("a: {b: 1, c: [x, null, 2.5]}").unwrap(),
            serde_json::json!({"a": {"b": 1, "c": ["x", null, 2.5]}})
        );
        assert_eq!(from_json(r#"{"a": {"a": 1}}"#, "r").unwrap(), serde_json::json!({"a": {"a": 1}}));
        assert!(from_json(r#"{"a": 1} x"#, "r").is_err());
        assert!(from_yaml("a: [").is_err());
    }

    #[test]
    fn documents_are_json_or_yaml() {
        let long = "k".repeat(5000);
        let json = serde_json::json!({ "a": { long.clone(): 1 } }).to_string();
        assert_eq!(from_document(&json).unwrap()["a"][&long], 1);
        assert_eq!(from_document("{a: {b: 1}}").unwrap(), serde_json::json!({"a": {"b": 1}}));
        let e = invalid(from_document(r#"{"a": {"b": 1, "b": 2}}"#).unwrap_err());
        assert_eq!(e[0].path, "a.b");
        let e = invalid(from_document("{a: 1, a: 2}").unwrap_err());
        assert_eq!(e[0].path, "a");
        // Integers beyond 64 bits are kept as numbers, for the type check to refuse with its path.
        assert!(from_yaml("a: 99999999999999999999").unwrap()["a"].is_f64());
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        a: Option<String>,
        b: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        inner: Option<Inner>,
        list: Option<Vec<Inner>>,
    }

    #[test]
    fn a_struct_is_never_read_from_a_sequence() {
        let value = serde_json::json!({"inner": ["x", "y"]});
        // serde itself accepts this, by position: the reason Strict exists.
        assert!(serde_json::from_value::<Outer>(value.clone()).is_ok());
        let e = serde_path_to_error::deserialize::<_, Outer>(Strict(value)).unwrap_err();
        assert_eq!(e.path().to_string(), "inner");
        assert!(e.to_string().contains("expected a map"), "{e}");
        let e =
            serde_path_to_error::deserialize::<_, Outer>(Strict(serde_json::json!({"list": [{}, ["x"]]}))).unwrap_err();
        assert_eq!(e.path().to_string(), "list[1]");
        let ok: Outer = serde_path_to_error::deserialize(Strict(serde_json::json!({"inner": {"a": "x"}}))).unwrap();
        assert_eq!(ok.inner.unwrap().a.as_deref(), Some("x"));
    }
}
