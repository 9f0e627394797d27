//! `application/x-www-form-urlencoded` with PHP-style brackets, the way PHP's
//! `http_build_query` writes it and `$_POST` / Rails' `params` read it back:
//! `type=order.paid&data[order][items][0][sku]=A1`.
//!
//! Rules (PHP's): `true` → `1`, `false` → `0`, `null` → empty string, empty arrays and
//! objects send nothing (a form cannot express them), keys are kept as given.
//!
//! [`decode`] goes the other way, for people looking at a form body (`shophook
//! listen`): brackets become nested objects, `[]` appends, a later key wins over an
//! earlier one, and an object whose keys are exactly `0, 1, …, n-1` becomes an array.
//! Values stay strings — a form has no types.

use serde_json::Value;

/// The flat (key, value) pairs of a JSON value, brackets in the keys.
pub fn pairs(value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                walk(k.clone(), v, &mut out);
            }
        }
        other => walk(String::new(), other, &mut out),
    }
    out
}

fn walk(key: String, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                walk(format!("{key}[{k}]"), child, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(format!("{key}[{i}]"), child, out);
            }
        }
        Value::Null => out.push((key, String::new())),
        Value::Bool(b) => out.push((key, if *b { "1" } else { "0" }.to_string())),
        Value::Number(n) => out.push((key, n.to_string())),
        Value::String(s) => out.push((key, s.clone())),
    }
}

/// Percent-encodes pairs into a form body (spaces as `+`).
pub fn encode_pairs<'a>(pairs: impl IntoIterator<Item = &'a (String, String)>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A JSON value as a PHP-bracket form body.
pub fn encode(value: &Value) -> String {
    encode_pairs(&pairs(value))
}

/// How deep [`decode`] nests brackets (PHP's default `max_input_nesting_level`);
/// deeper brackets stay part of the key text.
pub const MAX_DEPTH: usize = 64;

/// A form body (PHP-bracket keys) as the nested JSON that PHP's `$_POST` reads it
/// into (values as strings; objects with keys `0..n` in order as arrays).
pub fn decode(body: &[u8]) -> Value {
    let mut root = serde_json::Map::new();
    for (key, value) in form_urlencoded::parse(body) {
        let path = key_path(&key);
        insert(&mut root, &path, Value::String(value.into_owned()));
    }
    arrays(Value::Object(root))
}

/// `a[b][]` → `["a", "b", ""]`; a key without a well-formed bracket suffix is one
/// segment as written (`a[b` stays `a[b`).
fn key_path(key: &str) -> Vec<String> {
    let Some(open) = key.find('[').filter(|&i| i > 0) else {
        return vec![key.to_string()];
    };
    let mut path = vec![key[..open].to_string()];
    let mut rest = &key[open..];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else { break };
        if path.len() > MAX_DEPTH {
            break;
        }
        path.push(inner[..close].to_string());
        rest = &inner[close + 1..];
    }
    if !rest.is_empty() {
        // PHP drops what follows the last bracket (`a[b]c` is `a[b]`); show it
        // rather than losing it: the whole key stays flat.
        return vec![key.to_string()];
    }
    path
}

fn insert(map: &mut serde_json::Map<String, Value>, path: &[String], value: Value) {
    let (first, rest) = path.split_first().expect("a key path has a first segment");
    let key = if first.is_empty() {
        // `[]` appends: the next index after the largest numeric key (PHP's rule).
        map.keys()
            .filter_map(|k| k.parse::<u64>().ok())
            .max()
            .map_or(0, |n| n + 1)
            .to_string()
    } else {
        first.clone()
    };
    if rest.is_empty() {
        map.insert(key, value);
        return;
    }
    let slot = map
        .entry(key)
        .or_insert_with(|| Value::Object(Default::default()));
    if !slot.is_object() {
        // `a=1&a[b]=2`: the later, nested key wins, as in PHP.
        *slot = Value::Object(Default::default());
    }
    if let Value::Object(child) = slot {
        insert(child, rest, value);
    }
}

fn arrays(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let is_list = !m.is_empty() && m.keys().enumerate().all(|(i, k)| k == &i.to_string());
            if is_list {
                Value::Array(m.into_iter().map(|(_, v)| arrays(v)).collect())
            } else {
                Value::Object(m.into_iter().map(|(k, v)| (k, arrays(v))).collect())
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn brackets_and_scalars() {
        let v = json!({
            "type": "order.paid",
            "data": {"order": {"id": "1001", "paid": true, "refunded": false, "note": null, "total": "10.50",
                "qty": 2, "items": [{"sku": "A1"}, {"sku": "B 2&"}], "empty": [], "none": {}}}
        });
        let body = encode(&v);
        assert_eq!(
            body,
            "type=order.paid&data%5Border%5D%5Bid%5D=1001&data%5Border%5D%5Bpaid%5D=1&data%5Border%5D%5Brefunded%5D=0\
             &data%5Border%5D%5Bnote%5D=&data%5Border%5D%5Btotal%5D=10.50&data%5Border%5D%5Bqty%5D=2\
             &data%5Border%5D%5Bitems%5D%5B0%5D%5Bsku%5D=A1&data%5Border%5D%5Bitems%5D%5B1%5D%5Bsku%5D=B+2%26"
        );
        let decoded: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(decoded[0], ("type".to_string(), "order.paid".to_string()));
        assert_eq!(
            decoded[8],
            ("data[order][items][1][sku]".to_string(), "B 2&".to_string())
        );
    }

    #[test]
    fn unicode_survives() {
        let body = encode(&json!({"city": "Łódź", "name": "Zażółć 🚚"}));
        let back: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            back,
            [
                ("city".into(), "Łódź".into()),
                ("name".into(), "Zażółć 🚚".into())
            ]
        );
    }

    #[test]
    fn decode_table() {
        let check =
            |body: &str, expect: Value| assert_eq!(decode(body.as_bytes()), expect, "{body}");
        check("", json!({}));
        check("a=1&b=", json!({"a": "1", "b": ""}));
        check("a=1&a=2", json!({"a": "2"}));
        check("a[]=x&a[]=y", json!({"a": ["x", "y"]}));
        check("a[5]=x&a[]=y", json!({"a": {"5": "x", "6": "y"}}));
        check("a[1]=x&a[0]=y", json!({"a": {"1": "x", "0": "y"}}));
        check("a=1&a[b]=2", json!({"a": {"b": "2"}}));
        check("a[b]=2&a=1", json!({"a": "1"}));
        check("a[b=1", json!({"a[b": "1"}));
        check("a[b]c=1", json!({"a[b]c": "1"}));
        check("[x]=1", json!({"[x]": "1"}));
        check(
            "a%5Bb%5D=%C5%81%C3%B3d%C5%BA+1",
            json!({"a": {"b": "Łódź 1"}}),
        );
        check(
            "type=order.paid&data[order][items][0][sku]=A1&data[order][items][1][sku]=B2&data[order][paid]=1",
            json!({"type": "order.paid", "data": {"order": {"items": [{"sku": "A1"}, {"sku": "B2"}], "paid": "1"}}}),
        );
        let deep = format!("a{}=1", "[x]".repeat(MAX_DEPTH + 5));
        assert!(
            decode(deep.as_bytes()).is_object(),
            "deep keys are bounded, not a stack overflow"
        );
    }

    #[test]
    fn decode_reverses_encode() {
        // Everything but types survives the trip: scalars come back as the strings a form carries.
        let v = json!({"type": "order.paid", "data": {"order": {"id": "1001", "paid": true, "qty": 2, "note": null,
            "items": [{"sku": "A1", "tags": ["x", "y"]}, {"sku": "B 2&"}], "city": "Łódź"}}});
        assert_eq!(
            decode(encode(&v).as_bytes()),
            json!({"type": "order.paid", "data": {"order": {"id": "1001", "paid": "1", "qty": "2", "note": "",
                "items": [{"sku": "A1", "tags": ["x", "y"]}, {"sku": "B 2&"}], "city": "Łódź"}}})
        );
    }
}
