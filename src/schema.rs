//! The JSON Schema of valve.yml (`valve schema`), generated from the key
//! table in `config/keys.rs` that validation uses, so that the schema
//! accepts what valve accepts (SPEC §14). Draft-07, which check-jsonschema
//! and the editors' YAML language servers read.

use serde_json::{Map, Value as Json, json};

use crate::config::keys::{self, Item, Key, Value, Words};

/// Where the committed copy (`schema/valve.schema.json`) is served.
pub const SCHEMA_ID: &str =
    "https://raw.githubusercontent.com/sage/valve/main/schema/valve.schema.json";

/// The schema document.
pub fn schema() -> Json {
    let mut root = object(keys::TOP_KEYS);
    if let Json::Object(m) = &mut root {
        let mut head = Map::new();
        head.insert(
            "$schema".into(),
            json!("http://json-schema.org/draft-07/schema#"),
        );
        head.insert("$id".into(), json!(SCHEMA_ID));
        head.insert(
            "title".into(),
            json!("valve configuration (.sage/valve.yml)"),
        );
        head.insert(
            "description".into(),
            json!("Personas of the valve git hook and CI gate: which paths they look at, which content wakes them and how serious their findings are."),
        );
        head.append(m);
        *m = head;
    }
    root
}

/// A mapping of `table`'s keys, nothing else (but YAML merge keys).
fn object<T>(table: &[Key<T>]) -> Json {
    let mut properties = Map::new();
    for key in table {
        let mut property = value(&key.value);
        if let Json::Object(m) = &mut property {
            m.insert("description".into(), json!(key.about));
        }
        properties.insert(key.name.into(), property);
    }
    let required: Vec<&str> = table
        .iter()
        .filter(|k| k.required.as_ref().is_some_and(|m| m.unless.is_none()))
        .map(|k| k.name)
        .collect();
    // A key required unless another is present: one of the two.
    let either: Vec<Json> = table
        .iter()
        .filter_map(|k| {
            let other = k.required.as_ref()?.unless?;
            Some(json!({ "anyOf": [{ "required": [k.name] }, { "required": [other] }] }))
        })
        .collect();
    let mut out = json!({
        "type": "object",
        "properties": properties,
        "patternProperties": merge_key(),
        "additionalProperties": false,
    });
    if let Json::Object(m) = &mut out {
        if !required.is_empty() {
            m.insert("required".into(), json!(required));
        }
        if !either.is_empty() {
            m.insert("allOf".into(), json!(either));
        }
    }
    out
}

/// `<<: *anchor` (or a list of them). YAML resolves merge keys before
/// valve (and check-jsonschema) look at a mapping; an editor may not, so
/// the key is allowed wherever a mapping is. A pattern property, so that
/// editors do not offer it as a completion.
fn merge_key() -> Json {
    json!({
        "^<<$": {
            "description": "YAML merge key: the entries of the anchored mapping(s) that this mapping does not set itself.",
            "anyOf": [
                { "type": "object" },
                { "type": "array", "items": { "type": "object" } }
            ]
        }
    })
}

/// The schema of one value type.
fn value<T>(value: &Value<T>) -> Json {
    match value {
        Value::Version => json!({ "enum": [1, "1"] }),
        Value::Text(_) => json!({ "type": "string" }),
        Value::Texts(item, _) => one_or_list(text_item(*item)),
        Value::Word(words, _) => word(words),
        Value::WordList(words, _) => one_or_list(word(words)),
        Value::Size(_) => json!({
            "anyOf": [
                { "type": "number", "minimum": 0, "maximum": u64::MAX },
                { "type": "string", "pattern": keys::size_pattern() }
            ]
        }),
        Value::Integer { min, max, .. } => {
            json!({ "type": "integer", "minimum": min, "maximum": max })
        }
        Value::Number { min, max, .. } => {
            json!({ "type": "number", "minimum": min, "maximum": max })
        }
        Value::Bool(_) => json!({ "type": "boolean" }),
        Value::FailOn(_) => {
            let threshold = word(&keys::THRESHOLDS);
            json!({
                "anyOf": [threshold, object(keys::FAIL_ON_KEYS)]
            })
        }
        Value::Suppressions(_) => object(keys::SUPPRESSION_KEYS),
        Value::Date(_) => json!({
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
        }),
        Value::Examples(_) => object(keys::EXAMPLES_KEYS),
        Value::ExampleList(_) => json!({
            "type": "array",
            "items": object(keys::EXAMPLE_KEYS)
        }),
        Value::Personas(_) => json!({
            "type": "object",
            "propertyNames": { "pattern": "\\S" },
            "patternProperties": merge_key(),
            "additionalProperties": {
                "description": "A persona: null for one that takes every path and fires on the path alone.",
                "anyOf": [{ "type": "null" }, persona()]
            }
        }),
        Value::Ignored(_) => json!({}),
    }
}

/// A persona's keys, and a change rule's two keys together without the
/// keys of a file rule.
fn persona() -> Json {
    let mut out = object(keys::PERSONA_KEYS);
    let forbidden: Vec<Json> = keys::NOT_IN_CHANGE_RULES
        .iter()
        .map(|k| json!({ "required": [k] }))
        .collect();
    if let Json::Object(m) = &mut out {
        m.insert(
            "dependencies".into(),
            json!({
                keys::WHEN_CHANGED: {
                    "required": [keys::REQUIRE_CHANGED],
                    "not": { "anyOf": forbidden }
                },
                keys::REQUIRE_CHANGED: [keys::WHEN_CHANGED]
            }),
        );
    }
    out
}

/// One item of a list of texts.
fn text_item(item: Item) -> Json {
    match item {
        // A blank glob is an error (persona.rs); the schema can see that.
        Item::Glob => json!({ "type": "string", "pattern": "\\S" }),
        Item::Regex | Item::Label => json!({ "type": "string" }),
        Item::Path => json!({ "type": "string", "pattern": "^[^/]", "not": { "pattern": "://" } }),
    }
}

/// A list, one item for a list of one, or null for an empty list.
fn one_or_list(item: Json) -> Json {
    json!({
        "anyOf": [
            item.clone(),
            { "type": "array", "items": item },
            { "type": "null" }
        ]
    })
}

/// One word of `words`: an `enum` of every spelling (what editors
/// complete), and for case-insensitive sets a pattern for case variants.
fn word(words: &Words) -> Json {
    let spellings = words.spellings();
    if !words.any_case {
        return json!({ "enum": spellings });
    }
    json!({
        "anyOf": [
            { "enum": spellings },
            { "type": "string", "pattern": case_insensitive(&spellings) }
        ]
    })
}

/// A pattern matching any of `words`, case-insensitively (`(?i)` is not
/// in the ECMA-262 regexes JSON Schema uses).
fn case_insensitive(words: &[&str]) -> String {
    let alternatives: Vec<String> = words
        .iter()
        .map(|w| {
            w.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    format!("^({})$", alternatives.join("|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_pattern() {
        let p = case_insensitive(&["warn", "HALT_EVERYTHING"]);
        assert_eq!(
            p,
            "^([wW][aA][rR][nN]|[hH][aA][lL][tT]_[eE][vV][eE][rR][yY][tT][hH][iI][nN][gG])$"
        );
    }

    #[test]
    fn the_size_pattern_reads_what_parse_size_reads() {
        let pattern = regex::Regex::new(&keys::size_pattern()).ok();
        for text in [
            "10MiB", "1.5 MB", "512", "2  GiB", "10 ", "1.", ".5", "10mib", "1e3", " 10", "10XB",
            "",
        ] {
            assert_eq!(
                pattern.as_ref().is_some_and(|p| p.is_match(text)),
                crate::config::parse_size(text).is_some(),
                "{text:?}"
            );
        }
    }
}
