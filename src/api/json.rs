//! Strict JSON parsing for request bodies: like `serde_json::from_str::<Value>`, but an object
//! that repeats a key is an error.
//!
//! RFC 8259 §4 says names within an object SHOULD be unique and that parsers differ on what a
//! repeated one means; serde_json silently keeps the last. A publisher whose client sends
//! `{"title": "a", "title": "b"}` (or a proxy that appends a field) would then get a write they
//! did not see coming, so lenta refuses the body and names the key and where it is.
//!
//! The parser is serde_json's own tokenizer with a visitor that builds a [`Value`]: the syntax
//! errors, their positions and the recursion limit (128 levels; deeper nesting is a syntax error,
//! never a stack overflow) are exactly serde_json's.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::http::response::echo;

/// Parses one JSON text (surrounding whitespace allowed, nothing else after it) into a
/// [`Value`], refusing an object with a repeated key at any depth. The error message names the
/// line and column, as serde_json's do.
pub fn parse_strict(text: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = StrictValue.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A seed (and visitor) that deserializes any JSON value, refusing repeated object keys.
#[derive(Clone, Copy)]
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
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

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never produces a non-finite float from JSON text; `null` as its own
        // `Value::from(f64)` does would be a fallback for the impossible.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if obj.contains_key(&key) {
                // serde_json adds " at line L column C" to an error raised here.
                return Err(de::Error::custom(format_args!(
                    "duplicate key {}: each name may appear once per object (RFC 8259 §4)",
                    echo(&key)
                )));
            }
            let value = map.next_value_seed(StrictValue)?;
            obj.insert(key, value);
        }
        Ok(Value::Object(obj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_what_serde_json_parses() {
        for text in [
            r#"{"a": [1, -2, 3.5, true, false, null, "x\u0041"], "b": {"c": {}}, "d": []}"#,
            "  42 ",
            "\"только строка\"",
            "null",
            "18446744073709551615",
            "-9223372036854775808",
            "1e300",
        ] {
            let strict = parse_strict(text).unwrap();
            let loose: Value = serde_json::from_str(text).unwrap();
            assert_eq!(strict, loose, "{text}");
        }
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth_with_its_position() {
        let top = parse_strict(r#"{"title": "a", "title": "b"}"#).unwrap_err();
        assert!(top.to_string().contains("duplicate key \"title\""), "{top}");
        // The position is just after the repeated key.
        assert_eq!((top.line(), top.column()), (1, 22), "{top}");
        let nested = parse_strict("{\"image\": {\"url\": \"x\",\n \"url\": \"y\"}}").unwrap_err();
        assert!(nested.to_string().contains("\"url\""), "{nested}");
        assert_eq!(nested.line(), 2, "{nested}");
        let in_array = parse_strict(r#"[{"a": 1}, {"b": 1, "b": 2}]"#).unwrap_err();
        assert!(in_array.to_string().contains("\"b\""), "{in_array}");
        // Equal after unescaping is the same key.
        assert!(parse_strict(r#"{"a": 1, "\u0061": 2}"#).is_err());
        // The same key in sibling objects is fine.
        assert_eq!(
            parse_strict(r#"[{"a": 1}, {"a": 2}]"#).unwrap(),
            json!([{"a": 1}, {"a": 2}])
        );
    }

    #[test]
    fn a_long_repeated_key_is_echoed_short() {
        let key = "k".repeat(10_000);
        let err = parse_strict(&format!(r#"{{"{key}": 1, "{key}": 2}}"#)).unwrap_err();
        assert!(err.to_string().len() < 300, "{}", err.to_string().len());
    }

    #[test]
    fn syntax_errors_and_depth_stay_serde_json_errors() {
        for text in ["", "{", "[1,]", "{\"a\" 1}", "1 2", "'x'"] {
            assert!(parse_strict(text).is_err(), "{text:?}");
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = parse_strict(&deep).unwrap_err();
        assert!(err.to_string().contains("recursion limit"), "{err}");
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse_strict(&ok).is_ok());
    }
}
