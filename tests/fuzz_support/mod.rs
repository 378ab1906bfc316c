//! What the fuzz suites share: the valid article they mutate, JSON-pointer edits, and the
//! `LENTA_FUZZ_SEED` / `LENTA_FUZZ_SCALE` knobs that make a run reproducible or longer.
#![allow(dead_code)]

use serde_json::{json, Value};

/// A valid article with every optional field set, for `external_id`.
pub fn article(external_id: &str) -> Value {
    json!({
        "external_id": external_id,
        "title": format!("Статья {external_id}"),
        "summary": "Коротко о главном.",
        "content_html": "<p>Текст <b>статьи</b>.</p>",
        "link": "https://news.example.ru/a/1",
        "published_at": "2024-05-17T09:00:00+03:00",
        "modified_at": "2024-05-17T10:15:00+03:00",
        "regions": ["RU-NIZ"],
        "categories": ["Общество", "Власть"],
        "author": "Иван Петров",
        "sources": [{"name": "Время Н", "url": "https://www.vremyan.ru"}],
        "image": {"url": "https://news.example.ru/images/1.jpg", "type": "image/jpeg", "length": 1000},
        "views": 5
    })
}

/// JSON pointers into [`article`] that mutations aim at (`/id` and `/extra` are not allowed).
pub const POINTERS: &[&str] = &[
    "/external_id",
    "/title",
    "/summary",
    "/content_html",
    "/link",
    "/published_at",
    "/modified_at",
    "/regions",
    "/regions/0",
    "/categories",
    "/categories/0",
    "/author",
    "/sources",
    "/sources/0",
    "/sources/0/name",
    "/sources/0/url",
    "/image",
    "/image/url",
    "/image/type",
    "/image/length",
    "/views",
    "/id",
    "/extra",
];

/// The fields the README calls required (issue 9, hole 3: `null` must count as missing).
pub const REQUIRED: &[&str] = &["external_id", "title", "published_at", "regions"];

/// Sets the value at a JSON pointer, adding the last key to its object if it is missing.
pub fn set_pointer(v: &mut Value, pointer: &str, new: Value) {
    if let Some(slot) = v.pointer_mut(pointer) {
        *slot = new;
        return;
    }
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(Value::Object(o)) = v.pointer_mut(parent) {
        o.insert(key.to_string(), new);
    }
}

/// Removes the value at a JSON pointer (an object key or an array element), if present.
pub fn remove_pointer(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    match v.pointer_mut(parent) {
        Some(Value::Object(o)) => {
            o.remove(key);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = key.parse::<usize>() {
                if i < a.len() {
                    a.remove(i);
                }
            }
        }
        _ => {}
    }
}

/// The seed text: `LENTA_FUZZ_SEED`, or the fixed default every CI run uses.
pub fn seed_text() -> String {
    std::env::var("LENTA_FUZZ_SEED").unwrap_or_else(|_| "lenta issue 9".into())
}

/// 32 seed bytes hashed from [`seed_text`].
pub fn seed() -> [u8; 32] {
    *blake3::hash(seed_text().as_bytes()).as_bytes()
}

/// `cases` times `LENTA_FUZZ_SCALE` (default 1), at least 1.
pub fn scaled(cases: u32) -> u32 {
    let scale: f64 = std::env::var("LENTA_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((cases as f64) * scale).max(1.0) as u32
}
