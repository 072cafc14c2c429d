//! A delta: what turns one state document into the next, small on the wire.
//!
//! Between two ticks nearly every change is a number that changed in place:
//! a count, a share, a rank. RFC 6902 spells the whole path for each one
//! (`{"op":"replace","path":"/districts/110101/components/coverage","value":0.0047}`,
//! about 75 bytes for a 6-byte number), which made a busy second's delta
//! larger than the whole snapshot. So a delta has two parts (docs/protocol.md):
//!
//! - `set`: `[i, v, i, v, …]` — leaf `i` of the previous state takes the
//!   value `v`. Leaves are the scalars (numbers, strings, booleans, nulls) of
//!   the document in depth-first order, object keys in ascending order of
//!   their characters (Unicode code points, which is the byte order of their
//!   UTF-8), array elements in order. Only a scalar that stays a scalar is set.
//! - `ops`: RFC 6902 operations for what changes shape — a key or an array
//!   element that appears or goes away, a value that turns from a scalar into
//!   an object or back — applied after `set`, in order.
//!
//! The leaf order depends only on the document, so the server and every
//! client number the leaves the same way without a table being sent.

use std::cmp::Ordering;

use serde::Serialize;
use serde::ser::SerializeSeq;
use serde_json::{Map, Value};

/// The change from one state to the next.
#[derive(Debug, Default, PartialEq)]
pub struct Delta {
    /// (leaf of the previous state, its new value)
    pub set: Vec<(usize, Value)>,
    pub ops: Vec<Op>,
}

/// An RFC 6902 operation (only the three the diff makes).
#[derive(Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Op {
    Add { path: String, value: Value },
    Remove { path: String },
    Replace { path: String, value: Value },
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.ops.is_empty()
    }

    /// `set` as written on the wire: one flat array of pairs.
    pub fn set_pairs(&self) -> SetPairs<'_> {
        SetPairs(&self.set)
    }
}

#[derive(Debug)]
pub struct SetPairs<'a>(&'a [(usize, Value)]);

impl Serialize for SetPairs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len() * 2))?;
        for (leaf, value) in self.0 {
            seq.serialize_element(leaf)?;
            seq.serialize_element(value)?;
        }
        seq.end()
    }
}

/// The delta that turns `prev` into `next`.
pub fn diff(prev: &Value, next: &Value) -> Delta {
    let mut delta = Delta::default();
    let mut path = String::new();
    let mut leaf = 0;
    walk(prev, next, &mut path, &mut leaf, &mut delta);
    delta
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Object(_) | Value::Array(_))
}

/// The number of leaves of a value.
fn leaves(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.values().map(leaves).sum(),
        Value::Array(a) => a.iter().map(leaves).sum(),
        _ => 1,
    }
}

/// An object's entries in leaf order (whatever order the map keeps).
fn sorted(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = m.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Appends `/token` to a JSON pointer, escaped (RFC 6901).
fn push_token(path: &mut String, token: &str) {
    path.push('/');
    for c in token.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

/// Appends `/i` to a JSON pointer.
fn push_index(path: &mut String, i: usize) {
    use std::fmt::Write;
    write!(path, "/{i}").expect("writing to a String");
}

fn walk(prev: &Value, next: &Value, path: &mut String, leaf: &mut usize, out: &mut Delta) {
    let len = path.len();
    match (prev, next) {
        (Value::Object(a), Value::Object(b)) => {
            let (a, b) = (sorted(a), sorted(b));
            let (mut i, mut j) = (0, 0);
            while i < a.len() || j < b.len() {
                let order = match (a.get(i), b.get(j)) {
                    (Some(x), Some(y)) => x.0.cmp(y.0),
                    (Some(_), None) => Ordering::Less,
                    _ => Ordering::Greater,
                };
                match order {
                    Ordering::Less => {
                        push_token(path, a[i].0);
                        out.ops.push(Op::Remove { path: path.clone() });
                        *leaf += leaves(a[i].1);
                        i += 1;
                    }
                    Ordering::Greater => {
                        push_token(path, b[j].0);
                        out.ops.push(Op::Add {
                            path: path.clone(),
                            value: b[j].1.clone(),
                        });
                        j += 1;
                    }
                    Ordering::Equal => {
                        push_token(path, a[i].0);
                        walk(a[i].1, b[j].1, path, leaf, out);
                        i += 1;
                        j += 1;
                    }
                }
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            let common = a.len().min(b.len());
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                push_index(path, i);
                walk(x, y, path, leaf, out);
                path.truncate(len);
            }
            // Removed from the end backwards, so each index is still there.
            for i in (common..a.len()).rev() {
                push_index(path, i);
                out.ops.push(Op::Remove { path: path.clone() });
                path.truncate(len);
            }
            *leaf += a[common..].iter().map(leaves).sum::<usize>();
            for (i, y) in b.iter().enumerate().skip(common) {
                push_index(path, i);
                out.ops.push(Op::Add {
                    path: path.clone(),
                    value: y.clone(),
                });
                path.truncate(len);
            }
        }
        (x, y) if is_scalar(x) && is_scalar(y) => {
            if x != y {
                out.set.push((*leaf, y.clone()));
            }
            *leaf += 1;
        }
        (x, y) => {
            out.ops.push(Op::Replace {
                path: path.clone(),
                value: y.clone(),
            });
            *leaf += leaves(x);
        }
    }
}

/// Applies a delta message's `set` and `ops` to `doc` (what a client does;
/// the Rust clients of the tests and the benchmark use it). An error leaves
/// `doc` partly changed: the client must resync.
pub fn apply(doc: &mut Value, message: &Value) -> Result<(), String> {
    if let Some(set) = message.get("set") {
        let set = set.as_array().ok_or("set is not an array")?;
        if set.len() % 2 != 0 {
            return Err("set has an odd length".into());
        }
        if !set.is_empty() {
            let mut refs = Vec::new();
            leaves_mut(doc, &mut refs);
            for pair in set.chunks(2) {
                let i = pair[0].as_u64().ok_or("a leaf number is not a number")? as usize;
                let n = refs.len();
                let slot = refs
                    .get_mut(i)
                    .ok_or_else(|| format!("leaf {i} of {n} does not exist"))?;
                if !is_scalar(&pair[1]) {
                    return Err(format!("leaf {i} set to an object or array"));
                }
                **slot = pair[1].clone();
            }
        }
    }
    if let Some(ops) = message.get("ops") {
        let patch: json_patch::Patch =
            serde_json::from_value(ops.clone()).map_err(|e| format!("ops: {e}"))?;
        json_patch::patch(doc, &patch).map_err(|e| format!("ops: {e}"))?;
    }
    Ok(())
}

/// The leaves of `doc`, in leaf order.
fn leaves_mut<'a>(doc: &'a mut Value, out: &mut Vec<&'a mut Value>) {
    match doc {
        Value::Object(m) => {
            let mut entries: Vec<_> = m.iter_mut().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (_, v) in entries {
                leaves_mut(v, out);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| leaves_mut(v, out)),
        leaf => out.push(leaf),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(delta: &Delta) -> Value {
        json!({"set": delta.set_pairs(), "ops": delta.ops})
    }

    #[track_caller]
    fn round_trip(prev: Value, next: Value) -> Value {
        let delta = diff(&prev, &next);
        let message = message(&delta);
        let mut doc = prev;
        apply(&mut doc, &message).unwrap();
        assert_eq!(doc, next);
        message
    }

    #[test]
    fn a_number_that_changed_is_set_by_its_leaf() {
        let prev = json!({"totals": {"people": 1, "scans": 2}, "b": [true, null, "x"]});
        let next = json!({"totals": {"people": 1, "scans": 3}, "b": [true, 5, "x"]});
        // Leaves: b/0, b/1, b/2, totals/people, totals/scans.
        assert_eq!(
            round_trip(prev, next),
            json!({"set": [1, 5, 4, 3], "ops": []})
        );
    }

    #[test]
    fn nothing_changed_is_an_empty_delta() {
        let doc = json!({"a": [1, {"b": 2.5}], "c": "x"});
        assert!(diff(&doc, &doc).is_empty());
    }

    #[test]
    fn keys_and_elements_that_come_and_go_are_operations() {
        let prev = json!({"a": {"x": 1, "y": [1, 2, 3]}, "z": 9});
        let next = json!({"a": {"w": {"k": 0}, "y": [1]}, "z": 10});
        assert_eq!(
            round_trip(prev, next),
            json!({
                "set": [4, 10],
                "ops": [
                    {"op": "add", "path": "/a/w", "value": {"k": 0}},
                    {"op": "remove", "path": "/a/x"},
                    {"op": "remove", "path": "/a/y/2"},
                    {"op": "remove", "path": "/a/y/1"},
                ]
            })
        );
        round_trip(json!({"y": [1]}), json!({"y": [1, 2, {"q": null}]}));
    }

    #[test]
    fn a_scalar_that_becomes_an_object_is_replaced() {
        let message = round_trip(
            json!({"a": null, "b": {"c": 1, "d": 2}, "e": 3}),
            json!({"a": {"n": 1}, "b": 7, "e": 4}),
        );
        // e is leaf 3: a, b/c, b/d come first.
        assert_eq!(message["set"], json!([3, 4]));
        assert_eq!(message["ops"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn keys_are_ordered_by_code_point_and_escaped() {
        // "\u{ff5e}" sorts before "\u{1f600}" in UTF-8 and code points, after
        // it in UTF-16 code units: clients must compare code points.
        let prev = json!({"\u{1f600}": 1, "\u{ff5e}": 1, "丰台/团队~1": 1, "a": 1});
        let next = json!({"\u{1f600}": 2, "\u{ff5e}": 3, "丰台/团队~1": 4, "a": 5, "b/c": 0});
        let message = round_trip(prev, next);
        assert_eq!(message["set"], json!([0, 5, 1, 4, 2, 3, 3, 2]));
        assert_eq!(
            message["ops"],
            json!([{"op": "add", "path": "/b~1c", "value": 0}])
        );
    }

    #[test]
    fn a_bad_set_is_an_error() {
        let mut doc = json!({"a": 1});
        assert_eq!(
            apply(&mut doc, &json!({"set": [1, 2]})).unwrap_err(),
            "leaf 1 of 1 does not exist"
        );
        assert_eq!(
            apply(&mut doc, &json!({"set": [0]})).unwrap_err(),
            "set has an odd length"
        );
        assert_eq!(
            apply(&mut doc, &json!({"set": [0, {"x": 1}]})).unwrap_err(),
            "leaf 0 set to an object or array"
        );
    }
}
