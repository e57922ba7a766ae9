//! A structural check of the Mermaid flowcharts the manifest writes (no Mermaid renderer is
//! installed in CI): one `flowchart` header, every line a node or an edge of the shapes the
//! manifest uses, every label quoted with no raw `"`, every node declared once, every edge
//! between declared nodes, no Mermaid keyword as an id, and every node reachable from `start`.

use std::collections::{BTreeMap, BTreeSet};

/// A parsed flowchart.
#[derive(Debug, Default)]
pub struct Flowchart {
    /// Node id → label, in declaration order.
    pub nodes: Vec<(String, String)>,
    /// Edges in order.
    pub edges: Vec<Edge>,
}

/// One edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The node it leaves.
    pub from: String,
    /// Whether it is dashed (`-.->`) rather than solid (`-->`).
    pub dashed: bool,
    /// Its label, if any.
    pub label: Option<String>,
    /// The node it reaches.
    pub to: String,
}

/// Node shapes as (opening, closing) around the quoted label.
const SHAPES: &[(&str, &str)] = &[
    ("([\"", "\"])"),
    ("[[\"", "\"]]"),
    ("{{\"", "\"}}"),
    ("[/\"", "\"/]"),
    ("[\\\"", "\"\\]"),
    ("[/\"", "\"\\]"),
    ("[\\\"", "\"/]"),
    ("[\"", "\"]"),
    ("{\"", "\"}"),
    (">\"", "\"]"),
];

/// Words Mermaid's flowchart grammar reserves.
const KEYWORDS: &[&str] = &[
    "end",
    "subgraph",
    "graph",
    "flowchart",
    "style",
    "classDef",
    "class",
    "click",
    "linkStyle",
    "direction",
    "call",
    "href",
    "default",
];

impl Flowchart {
    /// The label of node `id`.
    pub fn label(&self, id: &str) -> Option<&str> {
        self.nodes
            .iter()
            .find(|(node, _)| node == id)
            .map(|(_, label)| label.as_str())
    }

    /// The ids of the nodes whose label is `label`.
    pub fn nodes_labelled(&self, label: &str) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|(_, text)| text == label)
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// Whether a solid edge leads from `from` to `to`.
    pub fn flows(&self, from: &str, to: &str) -> bool {
        self.edges
            .iter()
            .any(|edge| !edge.dashed && edge.from == from && edge.to == to)
    }
}

fn is_id(text: &str) -> bool {
    !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !text.starts_with(|c: char| c.is_ascii_digit())
}

fn quoted(text: &str, line: &str) -> Result<String, String> {
    if text.contains('"') {
        return Err(format!("a label holds a raw `\"`: {line}"));
    }
    Ok(text.to_owned())
}

fn edge(line: &str) -> Result<Option<Edge>, String> {
    let Some((from, rest)) = line.split_once(' ') else {
        return Ok(None);
    };
    let (dashed, rest) = if let Some(rest) = rest.strip_prefix("-->") {
        (false, rest)
    } else if let Some(rest) = rest.strip_prefix("-.->") {
        (true, rest)
    } else {
        return Ok(None);
    };
    let (label, to) = match rest.strip_prefix("|\"") {
        Some(labelled) => {
            let (label, to) = labelled
                .split_once("\"| ")
                .ok_or_else(|| format!("an edge label is not closed: {line}"))?;
            (Some(quoted(label, line)?), to)
        }
        None => (
            None,
            rest.strip_prefix(' ')
                .ok_or_else(|| format!("no space after the arrow: {line}"))?,
        ),
    };
    if !is_id(from) || !is_id(to) {
        return Err(format!("an edge end is not a plain id: {line}"));
    }
    Ok(Some(Edge {
        from: from.to_owned(),
        dashed,
        label,
        to: to.to_owned(),
    }))
}

fn node(line: &str) -> Result<(String, String), String> {
    let split = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .ok_or_else(|| format!("neither a node nor an edge: {line}"))?;
    let (id, shape) = line.split_at(split);
    if !is_id(id) {
        return Err(format!("a node id is not a plain id: {line}"));
    }
    for (open, close) in SHAPES {
        if let Some(inner) = shape
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
        {
            return Ok((id.to_owned(), quoted(inner, line)?));
        }
    }
    Err(format!("not a quoted node shape: {line}"))
}

/// Parses and checks `text`.
pub fn check(text: &str) -> Result<Flowchart, String> {
    let mut chart = Flowchart::default();
    let mut header = false;
    let mut depth = 0usize;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("%%") {
            continue;
        }
        if !header {
            if line != "flowchart TD" && line != "flowchart LR" {
                return Err(format!("the first statement is not `flowchart`: {line}"));
            }
            header = true;
            continue;
        }
        if line.starts_with("subgraph ") {
            depth += 1;
            continue;
        }
        if line == "end" {
            depth = depth
                .checked_sub(1)
                .ok_or_else(|| "an `end` without its `subgraph`".to_owned())?;
            continue;
        }
        match edge(line)? {
            Some(edge) => chart.edges.push(edge),
            None => {
                let (id, label) = node(line)?;
                if chart.label(&id).is_some() {
                    return Err(format!("node `{id}` is declared twice"));
                }
                chart.nodes.push((id, label));
            }
        }
    }
    if !header {
        return Err("no `flowchart` header".to_owned());
    }
    if depth != 0 {
        return Err(format!("{depth} `subgraph` not closed"));
    }
    let declared: BTreeSet<&str> = chart.nodes.iter().map(|(id, _)| id.as_str()).collect();
    for id in &declared {
        if KEYWORDS
            .iter()
            .any(|keyword| keyword.eq_ignore_ascii_case(id))
        {
            return Err(format!("node id `{id}` is a Mermaid keyword"));
        }
    }
    for edge in &chart.edges {
        for end in [&edge.from, &edge.to] {
            if !declared.contains(end.as_str()) {
                return Err(format!("edge {edge:?} reaches undeclared node `{end}`"));
            }
        }
    }
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for edge in &chart.edges {
        next.entry(&edge.from).or_default().push(&edge.to);
    }
    let mut reached = BTreeSet::from(["start"]);
    let mut todo = vec!["start"];
    while let Some(id) = todo.pop() {
        for to in next.get(id).into_iter().flatten() {
            if reached.insert(to) {
                todo.push(to);
            }
        }
    }
    if let Some(lost) = declared.iter().find(|id| !reached.contains(*id)) {
        return Err(format!("node `{lost}` is not reachable from `start`"));
    }
    Ok(chart)
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_a_small_chart() {
        let chart = check(
            "%% workflow w (w)\nflowchart TD\n    start([\"w\"])\n    task1[\"task: a\"]\n    start -->|\"x > 1\"| task1\n",
        )
        .unwrap();
        assert!(chart.flows("start", "task1"));
    }

    #[test]
    fn refuses_what_mermaid_would_misread() {
        for (text, why) in [
            ("flowchart TD\n    start([\"a\"b\"])\n", "raw `\"`"),
            (
                "flowchart TD\n    start([\"a\"])\n    start --> task1\n",
                "undeclared",
            ),
            (
                "flowchart TD\n    start([\"a\"])\n    end[\"b\"]\n    start --> end\n",
                "keyword",
            ),
            (
                "flowchart TD\n    start([\"a\"])\n    task1[\"b\"]\n",
                "not reachable",
            ),
            (
                "flowchart TD\n    start([\"a\"])\n    start([\"b\"])\n",
                "twice",
            ),
            ("flowchart TD\n    start(a)\n", "not a quoted node shape"),
            (
                "flowchart TD\n    subgraph x\n    start([\"a\"])\n",
                "not closed",
            ),
        ] {
            let error = check(text).unwrap_err();
            assert!(error.contains(why), "{text:?}: {error}");
        }
    }
}
