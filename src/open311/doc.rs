//! One answer, two formats. Every Open311 answer is built once as an ordered tree and written as
//! JSON or as XML with the GeoReport v2 element names: a list is written as a wrapper element with
//! one child element per item (`<services><service>…`), so each list names its items.

use std::fmt::Write;

/// Which of the two formats the request asked for, by its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub const JSON_TYPE: &'static str = "application/json; charset=utf-8";
    pub const XML_TYPE: &'static str = "text/xml; charset=utf-8";

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => Self::JSON_TYPE,
            Format::Xml => Self::XML_TYPE,
        }
    }

    /// Split `name.json` / `name.xml` into the name and the format.
    pub fn split(raw: &str) -> Option<(&str, Format)> {
        if let Some(name) = raw.strip_suffix(".json") {
            Some((name, Format::Json))
        } else {
            raw.strip_suffix(".xml").map(|name| (name, Format::Xml))
        }
    }

    /// The format a request path asks for (JSON unless it ends in `.xml`).
    pub fn of_path(path: &str) -> Format {
        if path.ends_with(".xml") {
            Format::Xml
        } else {
            Format::Json
        }
    }
}

/// A value of an answer, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Str(String),
    Num(f64),
    Int(i64),
    Bool(bool),
    Null,
    /// Fields in the order the spec lists them.
    Obj(Vec<(&'static str, Node)>),
    /// A list and the element name of its items in XML.
    List(&'static str, Vec<Node>),
}

impl Node {
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }
    pub fn opt(s: Option<impl Into<String>>) -> Node {
        s.map_or(Node::Null, |s| Node::Str(s.into()))
    }
}

/// A whole answer: the XML root element and the tree under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub root: &'static str,
    pub body: Node,
}

impl Doc {
    pub fn render(&self, format: Format) -> String {
        let mut out = String::new();
        match format {
            Format::Json => json(&mut out, &self.body),
            Format::Xml => {
                out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
                xml_element(&mut out, self.root, &self.body);
            }
        }
        out
    }
}

fn json(out: &mut String, node: &Node) {
    match node {
        Node::Str(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
        Node::Num(n) => match serde_json::Number::from_f64(*n) {
            Some(n) => out.push_str(&n.to_string()),
            None => out.push_str("null"),
        },
        Node::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Null => out.push_str("null"),
        Node::Obj(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String((*k).to_string()).to_string());
                out.push(':');
                json(out, v);
            }
            out.push('}');
        }
        Node::List(_, items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json(out, v);
            }
            out.push(']');
        }
    }
}

/// `<name>…</name>` for a node; null and empty text are written as an empty element.
fn xml_element(out: &mut String, name: &str, node: &Node) {
    let text = match node {
        Node::Null => {
            let _ = write!(out, "<{name}/>");
            return;
        }
        Node::Str(s) if s.is_empty() => {
            let _ = write!(out, "<{name}/>");
            return;
        }
        Node::Str(s) => escape(s),
        Node::Num(n) if n.is_finite() => n.to_string(),
        Node::Num(_) => String::new(),
        Node::Int(i) => i.to_string(),
        Node::Bool(b) => b.to_string(),
        Node::Obj(fields) => {
            let _ = write!(out, "<{name}>");
            for (k, v) in fields {
                xml_element(out, k, v);
            }
            let _ = write!(out, "</{name}>");
            return;
        }
        Node::List(item, items) => {
            let _ = write!(out, "<{name}>");
            for v in items {
                xml_element(out, item, v);
            }
            let _ = write!(out, "</{name}>");
            return;
        }
    };
    let _ = write!(out, "<{name}>{text}</{name}>");
}

/// Escape text for XML, dropping characters XML 1.0 cannot carry at all.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_name_their_items_and_text_is_escaped() {
        let doc = Doc {
            root: "services",
            body: Node::List(
                "service",
                vec![Node::Obj(vec![
                    ("service_code", Node::str("a&b")),
                    ("metadata", Node::Bool(true)),
                    ("keywords", Node::Null),
                ])],
            ),
        };
        assert_eq!(
            doc.render(Format::Xml),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><services><service><service_code>a&amp;b</service_code><metadata>true</metadata><keywords/></service></services>"
        );
        assert_eq!(
            doc.render(Format::Json),
            r#"[{"service_code":"a&b","metadata":true,"keywords":null}]"#
        );
        assert_eq!(Format::split("x.json"), Some(("x", Format::Json)));
        assert_eq!(Format::split("x.xml"), Some(("x", Format::Xml)));
        assert_eq!(Format::split("x.html"), None);
        assert_eq!(escape("a\u{1}<"), "a&lt;");
    }
}
