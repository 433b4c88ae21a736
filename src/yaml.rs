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

/// Parses the first document of `source`. An empty document is `None`.
pub fn parse(source: &str) -> Result<Option<Node>, SyntaxError> {
    let offsets = CharOffsets::new(source);
    let mut builder = Builder {
        offsets: &offsets,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
    };
    for event in Parser::new_from_str(source) {
        let (event, span) = event.map_err(|e| SyntaxError {
            message: e.info().to_string(),
            offset: offsets.byte(e.marker().index()),
        })?;
        if builder.push(event, span)? {
            break;
        }
    }
    Ok(builder.root)
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
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
}

impl Builder<'_> {
    /// Feeds one event; returns true once the first document is complete.
    fn push(&mut self, event: Event<'_>, span: Span) -> Result<bool, SyntaxError> {
        match event {
            Event::Scalar(value, style, anchor, _tag) => {
                let node = Node::Scalar {
                    value: value.into_owned(),
                    quoted: !matches!(style, ScalarStyle::Plain),
                    span: self.offsets.span(span),
                };
                self.remember(anchor, &node);
                Ok(self.attach(node))
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
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
                            entries,
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
            self.anchors.insert(anchor, node.clone());
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
    fn empty_document_is_none() {
        assert!(matches!(parse("# nothing\n"), Ok(None)));
    }
}
