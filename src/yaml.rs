//! A YAML document as a tree of nodes that remember where they came from.
//!
//! serde-based YAML crates stop at the first error and lose positions once a
//! value is deserialized. valve's config errors must point at the exact key
//! or value and report every problem in one run, so the config is first read
//! into this spanned tree (from saphyr-parser's event stream) and then
//! validated by hand in `config.rs`. This module knows nothing of valve.

use std::collections::HashMap;

use miette::SourceSpan;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// One YAML node with its byte span in the source.
#[derive(Debug, Clone)]
pub enum Node {
    Scalar {
        value: String,
        /// Quoted scalars are always strings; plain ones may be null/bool/number.
        quoted: bool,
        span: SourceSpan,
    },
    Seq {
        items: Vec<Node>,
        span: SourceSpan,
    },
    Map {
        entries: Vec<(Node, Node)>,
        span: SourceSpan,
    },
}

impl Node {
    pub fn span(&self) -> SourceSpan {
        match self {
            Node::Scalar { span, .. } | Node::Seq { span, .. } | Node::Map { span, .. } => *span,
        }
    }

    /// A plain `~`, `null` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { value, quoted: false, .. }
            if value.is_empty() || value == "~" || value == "null" || value == "Null" || value == "NULL")
    }

    /// What kind of node this is, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Scalar { .. } if self.is_null() => "null",
            Node::Scalar { .. } => "a scalar",
            Node::Seq { .. } => "a list",
            Node::Map { .. } => "a mapping",
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub offset: usize,
}

/// Most nodes a document may expand to through aliases (SPEC §1): a few
/// hundred bytes of nested aliases would otherwise expand to gigabytes.
pub const MAX_NODES: usize = 10_000;

/// Parses `source`, which must hold at most one non-empty document. An
/// empty document is `None`. Explicit tags, a second document and alias
/// expansion past `MAX_NODES` are errors at their place.
pub fn parse(source: &str) -> Result<Option<Node>, SyntaxError> {
    let offsets = CharOffsets::new(source);
    let mut builder = Builder {
        offsets: &offsets,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        nodes: 0,
    };
    let mut done = false;
    for event in Parser::new_from_str(source) {
        let (event, span) = event.map_err(|e| SyntaxError {
            message: e.info().to_string(),
            offset: offsets.byte(e.marker().index()),
        })?;
        if done {
            // Anything but an empty document or the end of the stream is
            // a second document (an empty one is a plain null scalar).
            let empty = matches!(&event, Event::Scalar(v, ScalarStyle::Plain, _, None) if v.is_empty() || v == "~");
            if !empty
                && matches!(
                    event,
                    Event::Scalar(..)
                        | Event::SequenceStart(..)
                        | Event::MappingStart(..)
                        | Event::Alias(_)
                )
            {
                return Err(SyntaxError {
                    message: "a second YAML document; valve.yml holds exactly one".into(),
                    offset: offsets.byte(span.start.index()),
                });
            }
            continue;
        }
        if builder.push(event, span)? {
            done = true;
        }
    }
    Ok(builder.root)
}

/// Nodes in a tree, aliases expanded.
fn count(node: &Node) -> usize {
    match node {
        Node::Scalar { .. } => 1,
        Node::Seq { items, .. } => 1 + items.iter().map(count).sum::<usize>(),
        Node::Map { entries, .. } => {
            1 + entries
                .iter()
                .map(|(k, v)| count(k) + count(v))
                .sum::<usize>()
        }
    }
}

/// saphyr reports positions in characters; miette wants bytes.
struct CharOffsets {
    /// Byte offset of every char, plus one past the end. Empty when ASCII.
    table: Vec<usize>,
    len: usize,
}

impl CharOffsets {
    fn new(source: &str) -> Self {
        let table = if source.is_ascii() {
            Vec::new()
        } else {
            source
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(source.len()))
                .collect()
        };
        CharOffsets {
            table,
            len: source.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.table.is_empty() {
            char_index.min(self.len)
        } else {
            self.table.get(char_index).copied().unwrap_or(self.len)
        }
    }

    fn span(&self, span: Span) -> SourceSpan {
        let start = self.byte(span.start.index());
        let end = self.byte(span.end.index()).max(start);
        SourceSpan::new(start.into(), end - start)
    }
}

enum Open {
    Seq {
        items: Vec<Node>,
        start: usize,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
        start: usize,
        anchor: usize,
    },
}

struct Builder<'a> {
    offsets: &'a CharOffsets,
    stack: Vec<Open>,
    /// Anchored nodes and their sizes in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    /// Nodes built so far, aliases expanded.
    nodes: usize,
}

impl Builder<'_> {
    /// Feeds one event; returns true once the first document is complete.
    fn push(&mut self, event: Event<'_>, span: Span) -> Result<bool, SyntaxError> {
        let at = self.offsets.byte(span.start.index());
        if let Event::Scalar(_, _, _, Some(tag))
        | Event::SequenceStart(_, Some(tag))
        | Event::MappingStart(_, Some(tag)) = &event
        {
            return Err(SyntaxError {
                message: format!(
                    "explicit YAML tag `{}{}`; valve.yml takes plain values",
                    tag.handle, tag.suffix
                ),
                offset: at,
            });
        }
        let added = match &event {
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..) => 1,
            Event::Alias(id) => self.anchors.get(id).map_or(0, |(_, n)| *n),
            _ => 0,
        };
        self.nodes = self.nodes.saturating_add(added);
        if self.nodes > MAX_NODES {
            return Err(SyntaxError {
                message: format!(
                    "the document expands to more than {MAX_NODES} nodes (through aliases)"
                ),
                offset: at,
            });
        }
        match event {
            Event::Scalar(value, style, anchor, _) => {
                let node = Node::Scalar {
                    value: value.into_owned(),
                    quoted: !matches!(style, ScalarStyle::Plain),
                    span: self.offsets.span(span),
                };
                self.remember(anchor, &node);
                Ok(self.attach(node))
            }
            Event::Alias(id) => match self.anchors.get(&id).map(|(n, _)| n.clone()) {
                Some(node) => Ok(self.attach(node)),
                None => Err(SyntaxError {
                    message: "alias refers to an unknown anchor".into(),
                    offset: self.offsets.byte(span.start.index()),
                }),
            },
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Open::Seq {
                    items: Vec::new(),
                    start: self.offsets.byte(span.start.index()),
                    anchor,
                });
                Ok(false)
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Open::Map {
                    entries: Vec::new(),
                    pending_key: None,
                    start: self.offsets.byte(span.start.index()),
                    anchor,
                });
                Ok(false)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let end = self.offsets.byte(span.end.index());
                let node = match self.stack.pop() {
                    Some(Open::Seq {
                        items,
                        start,
                        anchor,
                    }) => {
                        let node = Node::Seq {
                            items,
                            span: SourceSpan::new(start.into(), end.saturating_sub(start)),
                        };
                        self.remember(anchor, &node);
                        node
                    }
                    Some(Open::Map {
                        entries,
                        start,
                        anchor,
                        ..
                    }) => {
                        let node = Node::Map {
                            entries: merge_keys(entries).map_err(|offset| SyntaxError {
                                message: "a merge key `<<` takes a mapping or a list of mappings"
                                    .into(),
                                offset,
                            })?,
                            span: SourceSpan::new(start.into(), end.saturating_sub(start)),
                        };
                        self.remember(anchor, &node);
                        node
                    }
                    None => return Ok(false),
                };
                Ok(self.attach(node))
            }
            Event::DocumentEnd => Ok(self.root.is_some()),
            _ => Ok(false),
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), count(node)));
        }
    }

    /// Places a finished node in its parent; true when it is the root.
    fn attach(&mut self, node: Node) -> bool {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                true
            }
            Some(Open::Seq { items, .. }) => {
                items.push(node);
                false
            }
            Some(Open::Map {
                entries,
                pending_key,
                ..
            }) => {
                match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => entries.push((key, node)),
                }
                false
            }
        }
    }
}

/// Resolves YAML merge keys (`<<: *base`, `<<: [*a, *b]`): the merged
/// mappings' entries come after the mapping's own, and a key the mapping
/// sets itself (or an earlier merged mapping set) wins. `Err` holds the
/// offset of a merge value that is not a mapping.
fn merge_keys(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, usize> {
    let is_merge =
        |k: &Node| matches!(k, Node::Scalar { value, quoted: false, .. } if value == "<<");
    if !entries.iter().any(|(k, _)| is_merge(k)) {
        return Ok(entries);
    }
    let mut own = Vec::new();
    let mut merged = Vec::new();
    for (key, value) in entries {
        if !is_merge(&key) {
            own.push((key, value));
            continue;
        }
        let sources = match value {
            Node::Seq { items, .. } => items,
            other => vec![other],
        };
        for source in sources {
            match source {
                Node::Map { entries, .. } => merged.extend(entries),
                other => return Err(other.span().offset()),
            }
        }
    }
    let key_text = |k: &Node| match k {
        Node::Scalar { value, .. } => Some(value.clone()),
        _ => None,
    };
    for (key, value) in merged {
        let text = key_text(&key);
        if text.is_some() && own.iter().any(|(k, _)| key_text(k) == text) {
            continue;
        }
        own.push((key, value));
    }
    Ok(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(source: &str, span: SourceSpan) -> &str {
        &source[span.offset()..span.offset() + span.len()]
    }

    #[test]
    fn keys_and_values_carry_byte_spans() {
        let src = "personas:\n  Guard:\n    severity: \"crit\"\n";
        let Some(Node::Map { entries, .. }) = parse(src).ok().flatten() else {
            panic!("expected a map")
        };
        let (k, v) = &entries[0];
        assert_eq!(at(src, k.span()), "personas");
        let Node::Map { entries, .. } = v else {
            panic!("expected a map")
        };
        let Node::Map { entries, .. } = &entries[0].1 else {
            panic!("expected a map")
        };
        assert_eq!(at(src, entries[0].0.span()), "severity");
        assert!(at(src, entries[0].1.span()).contains("crit"));
    }

    #[test]
    fn non_ascii_before_a_key_keeps_byte_offsets_right() {
        let src = "# é ü\nkey: value\n";
        let Some(Node::Map { entries, .. }) = parse(src).ok().flatten() else {
            panic!("expected a map")
        };
        assert_eq!(at(src, entries[0].0.span()), "key");
        assert_eq!(at(src, entries[0].1.span()), "value");
    }

    #[test]
    fn duplicate_keys_are_kept_in_order() {
        let src = "a: 1\na: 2\n";
        let Some(Node::Map { entries, .. }) = parse(src).ok().flatten() else {
            panic!("expected a map")
        };
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn syntax_error_has_a_position() {
        let err = parse("a: [1, 2\nb: 3\n").err();
        assert!(err.is_some());
    }

    #[test]
    fn an_alias_bomb_is_an_error_at_an_alias() {
        let mut src = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            src.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let err = parse(&src).err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.message.contains("10000 nodes"))
        );
        let offset = err.map_or(0, |e| e.offset);
        assert_eq!(&src[offset..offset + 1], "*");
    }

    #[test]
    fn modest_aliases_are_expanded() {
        let src = "base: &b [x, y]\nuse: *b\n";
        let Some(Node::Map { entries, .. }) = parse(src).ok().flatten() else {
            panic!("expected a map")
        };
        assert!(matches!(&entries[1].1, Node::Seq { items, .. } if items.len() == 2));
    }

    #[test]
    fn merge_keys_add_entries_the_mapping_does_not_set() {
        let src = "base: &b { severity: error, response: r }\np:\n  <<: *b\n  severity: info\n";
        let Some(Node::Map { entries, .. }) = parse(src).ok().flatten() else {
            panic!("expected a map")
        };
        let Node::Map { entries: p, .. } = &entries[1].1 else {
            panic!("expected a map")
        };
        let keys: Vec<String> = p
            .iter()
            .filter_map(|(k, v)| match (k, v) {
                (Node::Scalar { value: k, .. }, Node::Scalar { value: v, .. }) => {
                    Some(format!("{k}={v}"))
                }
                _ => None,
            })
            .collect();
        assert_eq!(keys, vec!["severity=info", "response=r"]);
    }

    #[test]
    fn a_second_document_is_an_error_at_its_start() {
        let src = "a: 1\n---\nb: 2\n";
        let err = parse(src).err();
        assert_eq!(err.map(|e| &src[e.offset..e.offset + 1]), Some("b"));
        assert!(parse("a: 1\n---\n# only a comment\n").is_ok());
    }

    #[test]
    fn explicit_tags_are_errors() {
        assert!(parse("a: !!str 1\n").is_err());
        assert!(parse("a: !custom x\n").is_err());
        assert!(parse("a: !!map {}\n").is_err());
    }

    #[test]
    fn empty_document_is_none() {
        assert!(matches!(parse("# nothing\n"), Ok(None)));
    }
}
