//! `application/x-www-form-urlencoded` with PHP-style brackets, the way PHP's
//! `http_build_query` writes it and `$_POST` / Rails' `params` read it back:
//! `type=order.paid&data[order][items][0][sku]=A1`.
//!
//! Rules (PHP's): `true` → `1`, `false` → `0`, `null` → empty string, empty arrays and
//! objects send nothing (a form cannot express them), keys are kept as given.

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
}
